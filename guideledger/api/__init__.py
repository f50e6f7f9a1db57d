"""The HTTP API and the command line: parse, call the application, render."""
