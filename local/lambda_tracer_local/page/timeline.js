
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("trace-data").textContent);
  var panel = document.getElementById("details");
  var selected = null;

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function isObject(value) {
    return value !== null && typeof value === "object" && !Array.isArray(value);
  }
  function ms(value) {
    if (typeof value !== "number") return "";
    if (value >= 1000) return (value / 1000).toFixed(2) + " s";
    if (value >= 100) return value.toFixed(0) + " ms";
    if (value >= 10) return value.toFixed(1) + " ms";
    return value.toFixed(2) + " ms";
  }
  function json(value) {
    return typeof value === "string" ? value : JSON.stringify(value, null, 2);
  }
  function niceStep(total) {
    var raw = total / 6, power = Math.pow(10, Math.floor(Math.log10(raw))), steps = [1, 2, 5, 10];
    for (var i = 0; i < steps.length; i++) if (steps[i] * power >= raw) return steps[i] * power;
    return 10 * power;
  }
  function tickLabel(at, step) {
    if (at === 0) return "0";
    if (step >= 1000) return (at / 1000).toFixed(Math.max(0, -Math.floor(Math.log10(step / 1000)))) + " s";
    return at.toFixed(Math.max(0, -Math.floor(Math.log10(step)))) + " ms";
  }
  function pct(value, total) {
    return Math.max(0, Math.min(100, (value / total) * 100));
  }

  function axis(total, step) {
    var row = el("div", "row axis"), track = el("div", "track");
    row.appendChild(el("div", "name", "Name"));
    row.appendChild(el("div", "dur", "Duration"));
    for (var at = 0, n = 0; at <= total * 1.0001 && n < 50; at += step, n++) {
      var tick = el("span", "tick" + (n === 0 ? " first" : pct(at, total) > 92 ? " last" : ""),
        tickLabel(at, step));
      tick.style.left = pct(at, total) + "%";
      track.appendChild(tick);
    }
    row.appendChild(track);
    return row;
  }

  function spanRow(span, total, grid) {
    var row = el("div", "row span");
    row.setAttribute("role", "button");
    row.setAttribute("tabindex", "0");
    row.setAttribute("aria-pressed", "false");
    row.dataset.id = span.id || "";
    row.dataset.parent = span.parent || "";
    row.dataset.depth = String(span.depth);
    row.dataset.status = span.status;
    var name = el("div", "name", span.name);
    name.style.paddingLeft = (8 + span.depth * 16) + "px";
    name.title = span.name;
    if (span.namespace && span.namespace !== "local") name.appendChild(el("span", "ns", span.namespace));
    if (span.kind) name.appendChild(el("span", "ns", span.kind));
    row.appendChild(name);
    row.appendChild(el("div", "dur", span.duration_ms === null ? (span.in_progress ? "in progress" : "") :
      ms(span.duration_ms)));
    var track = el("div", "track");
    track.style.backgroundImage = grid;
    if (span.offset_ms !== null) {
      var bar = el("div", "bar " + span.status + (span.in_progress ? " in-progress" : ""));
      var left = pct(span.offset_ms, total);
      var width = span.duration_ms === null ? 100 - left : pct(span.duration_ms, total);
      bar.style.left = left + "%";
      bar.style.width = Math.min(width, 100 - left) + "%";
      bar.title = span.name + "  " + ms(span.duration_ms);
      track.appendChild(bar);
    }
    row.appendChild(track);
    row.addEventListener("click", function () { select(row, span); });
    row.addEventListener("keydown", function (event) {
      if (event.key === "Enter" || event.key === " ") { event.preventDefault(); select(row, span); }
    });
    return row;
  }

  function invocation(inv, index) {
    var section = el("section", "invocation");
    section.dataset.invocation = String(index + 1);
    var heading = el("h2");
    heading.appendChild(el("span", "badge" + (inv.status === "response" ? "" : " failed"), inv.status || "?"));
    heading.appendChild(el("span", "label", inv.label));
    section.appendChild(heading);
    var facts = [];
    if (inv.trace_id) facts.push("trace " + inv.trace_id);
    if (typeof inv.round_trip_ms === "number") facts.push(ms(inv.round_trip_ms) + " round trip");
    if (inv.outcome) facts.push("\u2192 " + inv.outcome);
    section.appendChild(el("p", "summary", facts.join("  \u00b7  ")));
    if (!inv.spans.length) {
      section.appendChild(el("p", "empty", "(no X-Ray documents)"));
      return section;
    }
    var total = inv.total_ms > 0 ? inv.total_ms : 0.001, step = niceStep(total);
    var grid = "repeating-linear-gradient(to right, #e9ecef 0, #e9ecef 1px, transparent 1px, transparent " +
      pct(step, total) + "%)";
    var table = el("div", "timeline");
    table.setAttribute("role", "list");
    table.appendChild(axis(total, step));
    for (var i = 0; i < inv.spans.length; i++) table.appendChild(spanRow(inv.spans[i], total, grid));
    section.appendChild(table);
    return section;
  }

  function fact(list, term, value) {
    if (value === undefined || value === null || value === "") return;
    list.appendChild(el("dt", "", term));
    list.appendChild(el("dd", "", value));
  }

  function keyValues(title, object, pretty) {
    var keys = Object.keys(object);
    if (!keys.length) return null;
    var box = el("div", "section " + title.split(" ")[0].toLowerCase());
    box.appendChild(el("h4", "", title));
    var table = el("table", "kv");
    keys.forEach(function (key) {
      var tr = el("tr");
      tr.appendChild(el("th", "", key));
      var td = el("td");
      td.appendChild(pretty ? el("pre", "", json(object[key])) : el("span", "", json(object[key])));
      tr.appendChild(td);
      table.appendChild(tr);
    });
    box.appendChild(table);
    return box;
  }

  function exceptionBox(exc) {
    var box = el("div", "exception");
    box.appendChild(el("div", "what", [exc.type, exc.message].filter(Boolean).join(": ") || "exception"));
    if (exc.in) box.appendChild(el("div", "hint", "recorded in " + exc.in + (exc.id ? " (" + exc.id + ")" : "")));
    if (exc.remote) box.appendChild(el("div", "hint", "remote"));
    if (exc.stack && exc.stack.length) {
      var list = el("ol", "stack");
      exc.stack.forEach(function (frame) { list.appendChild(el("li", "", frame)); });
      box.appendChild(list);
    }
    if (exc.truncated) box.appendChild(el("div", "hint", exc.truncated + " more frames not recorded"));
    if (exc.skipped) box.appendChild(el("div", "hint", exc.skipped + " exceptions skipped"));
    return box;
  }

  function select(row, span) {
    if (selected) {
      selected.classList.remove("selected");
      selected.setAttribute("aria-pressed", "false");
    }
    selected = row;
    row.classList.add("selected");
    row.setAttribute("aria-pressed", "true");
    var doc = isObject(span.document) ? span.document : {};
    panel.textContent = "";
    var heading = el("h3");
    heading.appendChild(el("span", "swatch " + span.status));
    heading.appendChild(el("span", "", span.name));
    panel.appendChild(heading);

    var facts = el("dl", "facts");
    fact(facts, "status", span.status + (span.in_progress ? ", in progress" : ""));
    fact(facts, "duration", ms(span.duration_ms));
    fact(facts, "starts at", typeof span.offset_ms === "number" ? "+" + ms(span.offset_ms) : "");
    if (typeof doc.start_time === "number") fact(facts, "start", new Date(doc.start_time * 1000).toISOString());
    fact(facts, "id", span.id);
    fact(facts, "parent", span.parent);
    fact(facts, "namespace", typeof doc.namespace === "string" ? doc.namespace : "");
    var otlp = isObject(doc.otlp) ? doc.otlp : null;
    if (otlp) {
      fact(facts, "OTLP kind", typeof otlp.kind === "string" ? otlp.kind : "");
      fact(facts, "sampled", otlp.sampled === false ? "no (T1U)" : "yes (T1S)");
    }
    panel.appendChild(facts);

    if (span.exceptions.length) {
      var causes = el("div", "section exceptions");
      causes.appendChild(el("h4", "", span.exceptions.length > 1 ? "Exceptions" : "Exception"));
      span.exceptions.forEach(function (exc) { causes.appendChild(exceptionBox(exc)); });
      panel.appendChild(causes);
    }
    if (isObject(doc.annotations)) {
      var annotations = keyValues("Annotations", doc.annotations, false);
      if (annotations) panel.appendChild(annotations);
    }
    if (isObject(doc.metadata)) {
      Object.keys(doc.metadata).forEach(function (namespace) {
        var entries = doc.metadata[namespace], title = "Metadata \u00b7 " + namespace, box;
        if (isObject(entries)) {
          box = keyValues(title, entries, true);
        } else {
          box = el("div", "section metadata");
          box.appendChild(el("h4", "", title));
          box.appendChild(el("pre", "", json(entries)));
        }
        if (box) panel.appendChild(box);
      });
    }
    if (otlp && isObject(otlp.attributes)) {
      var attributes = keyValues("OTLP attributes", otlp.attributes, false);
      if (attributes) panel.appendChild(attributes);
    }
    ["http", "aws", "sql"].forEach(function (key) {
      if (doc[key] === undefined) return;
      var box = el("div", "section " + key);
      box.appendChild(el("h4", "", key.toUpperCase()));
      box.appendChild(el("pre", "", json(doc[key])));
      panel.appendChild(box);
    });
    var raw = el("details", "raw");
    raw.appendChild(el("summary", "", "Raw document"));
    raw.appendChild(el("pre", "", JSON.stringify(doc, null, 2)));
    panel.appendChild(raw);
    panel.scrollTop = 0;
  }

  var main = document.getElementById("invocations");
  if (!data.invocations.length) main.appendChild(el("p", "empty", "No invocations."));
  data.invocations.forEach(function (inv, index) { main.appendChild(invocation(inv, index)); });
  document.body.dataset.ready = "true";
})();
