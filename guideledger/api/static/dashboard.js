// The morning page: reads only the query API with the caller's token, so the
// caller's role decides what each panel may show.
"use strict";

const LABELS = {
  zh: {
    title: "导购业绩看板", token: "访问令牌", brand: "品牌编码", day: "日期", branch: "分公司",
    district: "区", store: "门店", show: "查看", all: "全部", rank: "排名", guide: "导购",
    orders: "订单数", netSales: "净销售额", onlineSales: "线上销售额", shares: "分享数",
    shareRate: "分享转化率", storesTotal: "门店排名（总销售）", storesOnline: "门店排名（线上销售）",
    guides: "导购排名", daily: "近30天每日销售额（元）", payouts: "各期佣金（元，按收款层级）",
    lag: "读模型延迟", projection: "读模型", eventsBehind: "落后事件数", secondsBehind: "落后秒数",
    forbidden: "当前角色无权查看", failed: "加载失败", pickStore: "请选择门店或区",
    loading: "加载中…", loaded: "已更新", needToken: "请先填写访问令牌", language: "English",
    level: { guide: "导购", store: "门店", district: "区", region: "大区", branch: "分公司" },
  },
  en: {
    title: "Guide sales dashboard", token: "Bearer token", brand: "Brand code", day: "Day",
    branch: "Branch", district: "District", store: "Store", show: "Show", all: "All", rank: "Rank",
    guide: "Guide", orders: "Orders", netSales: "Net sales", onlineSales: "Online sales",
    shares: "Shares", shareRate: "Share rate", storesTotal: "Store ranking (total sales)",
    storesOnline: "Store ranking (online sales)", guides: "Guide ranking",
    daily: "Sales per day, last 30 days (yuan)", payouts: "Commission per period (yuan, by payee level)",
    lag: "Read model lag", projection: "Read model", eventsBehind: "Events behind",
    secondsBehind: "Seconds behind", forbidden: "Your role may not see this", failed: "Could not load",
    pickStore: "Pick a store or a district", loading: "Loading…", loaded: "Updated",
    needToken: "Enter a bearer token first", language: "中文",
    level: { guide: "Guide", store: "Store", district: "District", region: "Region", branch: "Branch" },
  },
};
const LEVELS = ["guide", "store", "district", "region", "branch"];
const COLOURS = ["#3e7cb1", "#f0a202", "#81a4cd", "#7d5ba6", "#2a9d8f"];

const state = { lang: "zh", brand: null, units: [], claims: {}, charts: {} };
const $ = (selector) => document.querySelector(selector);
const t = (key) => LABELS[state.lang][key];

class ApiError extends Error {
  constructor(status, detail) { super(detail); this.status = status; }
}

async function api(path) {
  const response = await fetch(path, { headers: { Authorization: `Bearer ${$("#token").value}` } });
  const body = await response.json();
  if (!response.ok) throw new ApiError(response.status, body.detail || body.title);
  return body;
}

/** Integer fen shown as yuan without passing through a float. */
function yuan(fen) {
  const sign = fen < 0 ? "-" : "";
  const whole = Math.trunc(Math.abs(fen) / 100).toLocaleString("en-US");
  return `${sign}¥${whole}.${String(Math.abs(fen) % 100).padStart(2, "0")}`;
}

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
  const day = new Date(`${today}T00:00:00Z`);
  day.setUTCDate(day.getUTCDate() - 1);
  return day.toISOString().slice(0, 10);
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
}

function fillSelect(selector, kind) {
  const select = $(selector);
  const chosen = select.value;
  select.replaceChildren(new Option(t("all"), ""));
  state.units.filter((u) => u.kind === kind).forEach((u) => select.add(new Option(`${u.name} (${u.code})`, u.unit_id)));
  select.value = chosen;
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
  try {
    await load();
  } catch (error) {
    notice.textContent = error.status === 403 ? t("forbidden") : `${t("failed")}: ${error.message}`;
  }
}

async function storeRanking(section, measure, day) {
  const rows = await api(`/brands/${state.brand.id}/rankings/stores?measure=${measure}&day=${day}`);
  const money = measure === "online" ? "online_sales_fen" : null;
  fillTable(section, rows.filter(filtersMatch), (r) => r.store_id, (r) => [
    [r.rank, "number"], [unitName(r.store_id)], [unitName(r.branch_id)],
    [r.sales.paid_orders, "number"], [yuan(money ? r.sales[money] : r.sales.net_sales_fen), "money"],
  ]);
}

async function guideRanking(day) {
  const store = $("#store").value || state.claims.store_id || "";
  const district = $("#district").value;
  if (!store && !district) {
    fillTable("guides", [], () => "", () => []);
    document.querySelector("#guides .notice").textContent = t("pickStore");
    return;
  }
  const scope = store ? `store_id=${store}` : `district_id=${district}`;
  const rows = await api(`/brands/${state.brand.id}/rankings/guides?${scope}&day=${day}&measure=share_rate`);
  const guides = await Promise.all(rows.map((r) => api(`/guides/${r.guide_id}`).catch(() => null)));
  fillTable("guides", rows, (r) => r.guide_id, (r) => {
    const guide = guides[rows.indexOf(r)];
    return [
      [r.rank, "number"], [guide ? `${guide.name} (${guide.code})` : r.guide_id], [unitName(r.store_id)],
      [yuan(r.sales.net_sales_fen), "money"], [r.shares, "number"], [`${(r.share_rate * 100).toFixed(1)}%`, "number"],
    ];
  });
}

function drawChart(section, config) {
  state.charts[section]?.destroy();
  state.charts[section] = new Chart(document.querySelector(`#${section} canvas`), config);
}

async function dailySales(day) {
  const scope = new URLSearchParams({ first: shiftDay(day, -29), last: day });
  if ($("#branch").value) scope.set("branch_id", $("#branch").value);
  if (state.claims.store_id) scope.set("store_id", state.claims.store_id);
  if (state.claims.guide_id) scope.set("guide_id", state.claims.guide_id);
  const days = await api(`/brands/${state.brand.id}/sales/daily?${scope}`);
  drawChart("daily", {
    type: "bar",
    data: {
      labels: days.map((d) => d.day.slice(5)),
      datasets: [{ label: t("netSales"), data: days.map((d) => d.sales.net_sales_fen / 100), backgroundColor: COLOURS[0] }],
    },
    options: { animation: false, maintainAspectRatio: false },
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
    options: { animation: false, maintainAspectRatio: false, scales: { x: { stacked: true }, y: { stacked: true } } },
  });
}

async function projectionLag() {
  const response = await fetch("/ready");
  const body = await response.json();
  fillTable("lag", body.projections, (p) => p.projection, (p) => [[p.projection], [p.events_behind, "number"], [p.seconds_behind.toFixed(1), "number"]]);
}

async function refresh(event) {
  event?.preventDefault();
  if (!$("#token").value) { $("#status").textContent = t("needToken"); return; }
  sessionStorage.setItem("guideledger-token", $("#token").value);
  $("#status").textContent = t("loading");
  document.body.dataset.loaded = "false";
  state.claims = claimsOf($("#token").value);
  try {
    state.brand = await api(`/brands/by-code/${encodeURIComponent($("#brand").value)}`);
    state.units = await api(`/brands/${state.brand.id}/units`);
  } catch (error) {
    $("#status").textContent = `${t("failed")}: ${error.message}`;
    return;
  }
  translate();
  const day = $("#day").value || yesterday(state.brand.time_zone, await serviceNow());
  $("#day").value = day;
  await Promise.all([
    panel("stores-total", () => storeRanking("stores-total", "total", day)),
    panel("stores-online", () => storeRanking("stores-online", "online", day)),
    panel("guides", () => guideRanking(day)),
    panel("daily", () => dailySales(day)),
    panel("payouts", payouts),
    panel("lag", projectionLag),
  ]);
  $("#status").textContent = `${t("loaded")} ${new Date().toLocaleTimeString()}`;
  document.body.dataset.loaded = "true";
}

function start() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  state.lang = fragment.get("lang") || (navigator.language.startsWith("zh") ? "zh" : "en");
  $("#token").value = fragment.get("token") || sessionStorage.getItem("guideledger-token") || "";
  if (fragment.get("brand")) $("#brand").value = fragment.get("brand");
  $("#language").addEventListener("click", () => {
    state.lang = state.lang === "zh" ? "en" : "zh";
    translate();
    if (state.brand) refresh();
  });
  $("#filters").addEventListener("submit", refresh);
  translate();
  refresh();
}

document.addEventListener("DOMContentLoaded", start);
