// The morning page: reads only the query API with the caller's token, so the
// caller's role decides what each panel may show.
"use strict";

const LABELS = {
  zh: {
    title: "导购业绩看板", token: "访问令牌", signIn: "进入", signOut: "更换令牌", filters: "筛选",
    brand: "品牌编码", day: "日期", branch: "分公司", district: "区", store: "门店", show: "查看",
    all: "全部", rank: "排名", guide: "导购", orders: "订单数", netSales: "净销售额",
    onlineSales: "线上销售额", onlineShare: "线上占比", shares: "分享数", shareRate: "分享转化率",
    conversion: "访问转化率", sortBy: "排序", glance: "昨日概览", dayBefore: "较前一日",
    weekBefore: "较上周同日", storesTotal: "门店排名（总销售）", storesOnline: "门店排名（线上销售）",
    guides: "导购排名", funnel: "分享漏斗（7天）", step: "环节", count: "数量", stepConversion: "环节转化率",
    steps: { shares: "分享", visits: "访问", add_to_carts: "加购", orders: "下单", payments: "支付" },
    measures: "经营指标（30天）", measure: "指标", amount: "金额", ofSales: "占销售额",
    measureNames: { through_shares: "导购分享带来的销售", link: "　商品链接", qr: "　二维码",
      live_stream: "　直播转发", cross_city: "异地销售", after_closing: "闭店后销售", cross_branch: "跨分公司发货" },
    daily: "近30天每日销售额（元）", payouts: "各期佣金（元，按收款层级）",
    operator: "运维信息", lag: "读模型延迟", projection: "读模型", eventsBehind: "落后事件数",
    secondsBehind: "落后秒数", forbidden: "当前角色无权查看", failed: "加载失败",
    pickStore: "请在筛选中选择分公司、区或门店", loading: "加载中…", loaded: "已更新",
    needToken: "请先填写访问令牌", language: "English", scopeBrand: "全品牌",
    level: { guide: "导购", store: "门店", district: "区", region: "大区", branch: "分公司" },
  },
  en: {
    title: "Guide sales dashboard", token: "Bearer token", signIn: "Open", signOut: "Change token",
    filters: "Filters", brand: "Brand code", day: "Day", branch: "Branch", district: "District",
    store: "Store", show: "Show", all: "All", rank: "Rank", guide: "Guide", orders: "Orders",
    netSales: "Net sales", onlineSales: "Online sales", onlineShare: "Online share",
    shares: "Shares", shareRate: "Share rate", conversion: "Conversion", sortBy: "Sort by",
    glance: "At a glance", dayBefore: "vs day before", weekBefore: "vs week before",
    storesTotal: "Store ranking (total sales)", storesOnline: "Store ranking (online sales)",
    guides: "Guide ranking", funnel: "Share funnel (7 days)", step: "Step", count: "Count", stepConversion: "From the step before",
    steps: { shares: "Shares", visits: "Visits", add_to_carts: "Add to cart", orders: "Orders",
      payments: "Payments" },
    measures: "Measures (30 days)", measure: "Measure", amount: "Amount", ofSales: "Of sales",
    measureNames: { through_shares: "Through guides' shares", link: "  product links",
      qr: "  QR codes", live_stream: "  live streams", cross_city: "To another city",
      after_closing: "After closing time",
      cross_branch: "Shipped by another branch" },
    daily: "Sales per day, last 30 days (yuan)", payouts: "Commission per period (yuan, by payee level)",
    operator: "For operators", lag: "Read model lag", projection: "Read model",
    eventsBehind: "Events behind", secondsBehind: "Seconds behind",
    forbidden: "Your role may not see this", failed: "Could not load",
    pickStore: "Pick a branch, district or store in the filters", loading: "Loading…", loaded: "Updated",
    needToken: "Enter a bearer token first", language: "中文", scopeBrand: "Whole brand",
    level: { guide: "Guide", store: "Store", district: "District", region: "Region", branch: "Branch" },
  },
};
const LEVELS = ["guide", "store", "district", "region", "branch"];
const COLOURS = ["#3e7cb1", "#f0a202", "#81a4cd", "#7d5ba6", "#2a9d8f"];
const TOKEN_KEY = "guideledger-token";
const SHOWN_AT_EACH_END = 5; // a long guide ranking shows its top and bottom five

const state = { lang: "zh", brand: null, units: [], claims: {}, charts: {}, token: "" };
const $ = (selector) => document.querySelector(selector);
const t = (key) => LABELS[state.lang][key];

class ApiError extends Error {
  constructor(status, detail) { super(detail); this.status = status; }
}

async function api(path) {
  const response = await fetch(path, { headers: { Authorization: `Bearer ${state.token}` } });
  const body = await response.json();
  if (!response.ok) throw new ApiError(response.status, body.detail || body.title);
  return body;
}

/** Integer fen shown as yuan with thousands separators, without passing through a float. */
function yuan(fen) {
  const sign = fen < 0 ? "-" : "";
  const whole = Math.trunc(Math.abs(fen) / 100).toLocaleString("en-US");
  return `${sign}¥${whole}.${String(Math.abs(fen) % 100).padStart(2, "0")}`;
}

const percent = (rate) => `${(rate * 100).toFixed(1)}%`;

function claimsOf(token) {
  try { return JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/"))); }
  catch { return {}; }
}

/** The service's instant (a sandbox's clock may stand anywhere); the browser's where the
 * service does not say (production serves no /sandbox/clock). */
async function serviceNow() {
  try { return new Date((await api("/sandbox/clock")).now); }
  catch { return new Date(); }
}

/** The day before `now` in the brand's time zone, as YYYY-MM-DD. */
function yesterday(timeZone, now) {
  const today = new Intl.DateTimeFormat("en-CA", { timeZone }).format(now);
  return shiftDay(today, -1);
}

function shiftDay(isoDay, days) {
  const day = new Date(`${isoDay}T00:00:00Z`);
  day.setUTCDate(day.getUTCDate() + days);
  return day.toISOString().slice(0, 10);
}

function unitName(id) {
  const unit = state.units.find((u) => u.unit_id === id);
  return unit ? unit.name : id;
}

function translate() {
  document.documentElement.lang = state.lang === "zh" ? "zh-CN" : "en";
  document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  $("#language").textContent = t("language");
  fillSelect("#branch", "branch");
  fillSelect("#district", "district");
  fillSelect("#store", "store");
  $("#scope-label").textContent = scopeLabel();
}

function fillSelect(selector, kind) {
  const select = $(selector);
  const chosen = select.value;
  select.replaceChildren(new Option(t("all"), ""));
  state.units.filter((u) => u.kind === kind).forEach((u) => select.add(new Option(`${u.name} (${u.code})`, u.unit_id)));
  select.value = chosen;
}

/** Whose figures the page shows: a guide's or store manager's own, else what the filters pick. */
function scope() {
  if (state.claims.guide_id) return { guide_id: state.claims.guide_id };
  if (state.claims.store_id) return { store_id: state.claims.store_id };
  for (const kind of ["store", "district", "branch"]) {
    if ($(`#${kind}`).value) return { [`${kind}_id`]: $(`#${kind}`).value };
  }
  return {};
}

function scopeLabel() {
  const [kind, id] = Object.entries(scope())[0] || [];
  if (!kind) return t("scopeBrand");
  return kind === "guide_id" ? t("guide") : unitName(id);
}

function query(params) {
  return new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== ""));
}

function filtersMatch(row) {
  const branch = $("#branch").value, district = $("#district").value;
  return (!branch || row.branch_id === branch) && (!district || row.district_id === district);
}

/** One row per item; each row carries the item's id and rank for tests and styling. */
function fillTable(section, rows, idOf, cells) {
  const body = document.querySelector(`#${section} tbody`);
  body.replaceChildren(...rows.map((row) => {
    const tr = document.createElement("tr");
    tr.dataset.id = idOf(row);
    tr.dataset.rank = row.rank ?? "";
    cells(row).forEach(([text, kind]) => {
      const td = tr.insertCell();
      td.textContent = text;
      if (kind) td.className = kind;
    });
    return tr;
  }));
}

async function panel(section, load) {
  const notice = document.querySelector(`#${section} .notice`);
  notice.textContent = "";
  document.querySelector(`#${section}`).classList.remove("refused");
  try {
    await load();
  } catch (error) {
    notice.textContent = error.status === 403 ? t("forbidden") : `${t("failed")}: ${error.message}`;
    document.querySelector(`#${section}`).classList.add("refused");
  }
}

function change(now, before, asPoints) {
  if (asPoints) return { text: `${((now - before) * 100).toFixed(1)}pp`, sign: Math.sign(now - before) };
  if (!before) return { text: "—", sign: 0 };
  return { text: percent((now - before) / before), sign: Math.sign(now - before) };
}

const onlineShare = (sales) => (sales.sales_fen ? sales.online_sales_fen / sales.sales_fen : 0);

async function glance(day) {
  const figures = await api(`/brands/${state.brand.id}/sales/yesterday?${query({ day, ...scope() })}`);
  const measures = {
    net: [(s) => s.net_sales_fen, yuan],
    orders: [(s) => s.paid_orders, String],
    online: [onlineShare, percent, true],
  };
  for (const [name, [value, format, asPoints]] of Object.entries(measures)) {
    const card = document.querySelector(`#glance .card[data-measure=${name}]`);
    card.querySelector(".value").textContent = format(value(figures.day.sales));
    card.querySelectorAll(".delta").forEach((el) => {
      const against = el.dataset.against;
      const { text, sign } = change(value(figures.day.sales), value(figures[against].sales), asPoints);
      el.textContent = `${t(against === "day_before" ? "dayBefore" : "weekBefore")} ${sign > 0 ? "+" : ""}${text}`;
      el.className = `delta ${sign > 0 ? "up" : sign < 0 ? "down" : ""}`;
    });
  }
}

async function storeRanking(section, measure, day) {
  const rows = await api(`/brands/${state.brand.id}/rankings/stores?measure=${measure}&day=${day}`);
  const money = measure === "online" ? "online_sales_fen" : null;
  fillTable(section, rows.filter(filtersMatch), (r) => r.store_id, (r) => [
    [r.rank, "number"], [unitName(r.store_id)], [unitName(r.branch_id), "wide"],
    [r.sales.paid_orders, "number"], [yuan(money ? r.sales[money] : r.sales.net_sales_fen), "money"],
  ]);
}

/** The top and bottom of a long ranking. */
function ends(rows) {
  if (rows.length <= 2 * SHOWN_AT_EACH_END) return rows;
  return [...rows.slice(0, SHOWN_AT_EACH_END), ...rows.slice(-SHOWN_AT_EACH_END)];
}

async function guideRanking(day) {
  const { guide_id: _own, ...unit } = scope();
  const measure = $("#guide-sort").value;
  const params = query({ day, measure, ...unit });
  const rows = ends(await api(`/brands/${state.brand.id}/rankings/guides?${params}`));
  const guides = await Promise.all(rows.map((r) => api(`/guides/${r.guide_id}`).catch(() => null)));
  fillTable("guides", rows, (r) => r.guide_id, (r) => {
    const guide = guides[rows.indexOf(r)];
    return [
      [r.rank, "number"], [guide ? guide.name : r.guide_id], [unitName(r.store_id), "wide"],
      [yuan(r.sales.online_sales_fen), "money"], [percent(r.share_rate), "number"],
      [percent(r.conversion), "number"],
    ];
  });
  $("#guides").dataset.measure = measure;
}

function drawChart(section, config) {
  state.charts[section]?.destroy();
  const options = { animation: false, maintainAspectRatio: false, responsive: true };
  config.options = { ...options, ...config.options };
  state.charts[section] = new Chart(document.querySelector(`#${section} canvas`), config);
}

async function funnel(day) {
  const unit = scope();
  if (!Object.keys(unit).length) {
    fillTable("funnel", [], () => "", () => []);
    state.charts.funnel?.destroy();
    document.querySelector("#funnel .notice").textContent = t("pickStore");
    return;
  }
  const first = shiftDay(day, -6);
  document.querySelector("#funnel .day").textContent = `${first} – ${day}`;
  const body = await api(`/brands/${state.brand.id}/funnel?${query({ first, last: day, ...unit })}`);
  const steps = body.steps.map((s) => ({ ...s, label: t("steps")[s.step] }));
  fillTable("funnel", steps, (s) => s.step, (s) => [
    [s.label], [s.count.toLocaleString("en-US"), "number"],
    [s.conversion === null ? "—" : percent(s.conversion), "number"],
  ]);
  drawChart("funnel", {
    type: "bar",
    data: {
      labels: steps.map((s) => s.label),
      datasets: [{ label: t("count"), data: steps.map((s) => s.count), backgroundColor: COLOURS }],
    },
    options: { indexAxis: "y", plugins: { legend: { display: false } } },
  });
}

async function measures(day) {
  const { store_id, branch_id } = scope();
  const first = shiftDay(day, -29);
  document.querySelector("#measures .day").textContent = `${first} – ${day}`;
  const params = query({ first, last: day, store_id, branch_id: store_id ? "" : branch_id });
  const { total } = await api(`/brands/${state.brand.id}/measures?${params}`);
  const names = Object.keys(t("measureNames"));
  fillTable("measures", names, (name) => name, (name) => [
    [t("measureNames")[name]], [yuan(total[`${name}_fen`]), "money"],
    [percent(total.net_sales_fen ? total[`${name}_fen`] / total.net_sales_fen : 0), "number"],
  ]);
}

async function dailySales(day) {
  const params = query({ first: shiftDay(day, -29), last: day, ...scope() });
  const days = await api(`/brands/${state.brand.id}/sales/daily?${params}`);
  drawChart("daily", {
    type: "bar",
    data: {
      labels: days.map((d) => d.day.slice(5)),
      datasets: [{ label: t("netSales"), data: days.map((d) => d.sales.net_sales_fen / 100), backgroundColor: COLOURS[0] }],
    },
  });
}

async function payouts() {
  const rows = await api(`/brands/${state.brand.id}/payouts`);
  const periods = [...new Set(rows.map((r) => r.period))];
  drawChart("payouts", {
    type: "bar",
    data: {
      labels: periods,
      datasets: LEVELS.map((level, n) => ({
        label: t("level")[level],
        backgroundColor: COLOURS[n],
        data: periods.map((p) => (rows.find((r) => r.period === p && r.level === level)?.total_fen ?? 0) / 100),
      })),
    },
    options: { scales: { x: { stacked: true }, y: { stacked: true } } },
  });
}

async function projectionLag() {
  const response = await fetch("/ready");
  const body = await response.json();
  fillTable("lag", body.projections, (p) => p.projection, (p) => [[p.projection], [p.events_behind, "number"], [p.seconds_behind.toFixed(1), "number"]]);
}

function askForToken() {
  $("#login").hidden = false;
  $("#status").textContent = t("needToken");
  $("#token").focus();
}

async function refresh(event) {
  event?.preventDefault();
  if (!state.token) { askForToken(); return; }
  $("#status").textContent = t("loading");
  document.body.dataset.loaded = "false";
  state.claims = claimsOf(state.token);
  try {
    state.brand = await api(`/brands/by-code/${encodeURIComponent($("#brand").value)}`);
    state.units = await api(`/brands/${state.brand.id}/units`);
  } catch (error) {
    $("#status").textContent = `${t("failed")}: ${error.message}`;
    if (error.status === 401) askForToken();
    return;
  }
  translate();
  const day = $("#day").value || yesterday(state.brand.time_zone, await serviceNow());
  $("#day").value = day;
  document.querySelector("#glance .day").textContent = day;
  await Promise.all([
    panel("glance", () => glance(day)),
    panel("guides", () => guideRanking(day)),
    panel("funnel", () => funnel(day)),
    panel("measures", () => measures(day)),
    panel("stores-total", () => storeRanking("stores-total", "total", day)),
    panel("stores-online", () => storeRanking("stores-online", "online", day)),
    panel("daily", () => dailySales(day)),
    panel("payouts", payouts),
    panel("lag", projectionLag),
  ]);
  const at = new Date().toLocaleTimeString(state.lang === "zh" ? "zh-CN" : "en-GB", { timeZone: state.brand.time_zone });
  $("#status").textContent = `${t("loaded")} ${at}`;
  document.body.dataset.loaded = "true";
}

/** The token is asked once and kept for the browser tab's session; one given in the
 * address's fragment is taken and the fragment cleared. */
function rememberToken(token) {
  state.token = token;
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

function toggleFilters(open) {
  $("#filters").hidden = !open;
  $("#filters-toggle").setAttribute("aria-expanded", String(open));
}

function start() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  state.lang = fragment.get("lang") || (navigator.language.startsWith("zh") ? "zh" : "en");
  rememberToken(fragment.get("token") || sessionStorage.getItem(TOKEN_KEY) || "");
  if (fragment.get("brand")) $("#brand").value = fragment.get("brand");
  if (fragment.has("token")) history.replaceState(null, "", `${location.pathname}#lang=${state.lang}`);
  $("#language").addEventListener("click", () => {
    state.lang = state.lang === "zh" ? "en" : "zh";
    translate();
    if (state.brand) refresh();
  });
  $("#filters-toggle").addEventListener("click", () => toggleFilters($("#filters").hidden));
  $("#filters").addEventListener("submit", (event) => { toggleFilters(false); refresh(event); });
  $("#guide-sort").addEventListener("change", () => panel("guides", () => guideRanking($("#day").value)));
  $("#login").addEventListener("submit", (event) => {
    rememberToken($("#token").value);
    $("#token").value = "";
    $("#login").hidden = true;
    refresh(event);
  });
  $("#sign-out").addEventListener("click", () => { rememberToken(""); toggleFilters(false); askForToken(); });
  translate();
  refresh();
}

document.addEventListener("DOMContentLoaded", start);
