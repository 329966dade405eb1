/* A running agent's log, followed as it is written: the agent page's transcript and the
   board's side panel, where a card opens its agent's live log and a box to talk to it.
   Each server-sent `line` is one conversation line (see web/live.py); a call shown as
   running gets its result filled in when it comes. Plain JavaScript, no dependencies. */
(function () {
  "use strict";

  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var ACTIVE = ["queued", "starting", "running"];

  function item(line) {
    var li = document.createElement("li");
    li.className = "k-" + line.kind + (line.failed ? " failed" : "") + (line.running ? " running" : "");
    if (line.call_id) li.setAttribute("data-call", line.call_id);
    var time = document.createElement("time");
    time.textContent = line.at || "";
    var text = document.createElement("span");
    text.textContent = line.text;
    li.appendChild(time);
    li.appendChild(document.createTextNode(" "));
    li.appendChild(text);
    return li;
  }

  function running(list, callId) {
    var found = null;
    list.querySelectorAll("li.running[data-call]").forEach(function (li) {
      if (li.getAttribute("data-call") === callId) found = li;
    });
    return found;
  }

  /* Add one line; a result finishes the running call it belongs to. */
  function add(list, line) {
    var near = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    var call = line.kind === "result" && line.call_id ? running(list, line.call_id) : null;
    if (call) {
      var text = call.querySelector("span");
      var result = line.text.slice(line.text.indexOf(" ") + 1); /* without the tool's name */
      text.textContent = text.textContent.replace(/ …$/, "") + "  " + result;
      call.classList.remove("running");
      if (line.failed) call.classList.add("failed");
    } else {
      list.appendChild(item(line));
      while (list.children.length > 2000) list.removeChild(list.firstChild);
    }
    if (near) list.scrollTop = list.scrollHeight;
  }

  function follow(list, runId, offset, onLine, onEnd) {
    if (!window.EventSource) return null;
    var url = "/api/runs/" + encodeURIComponent(runId) + "/transcript/stream?offset=" +
      encodeURIComponent(offset);
    var source = new EventSource(url);
    list.setAttribute("data-follow", "yes");
    source.addEventListener("line", function (e) {
      var line = JSON.parse(e.data);
      add(list, line);
      if (onLine) onLine(line);
    });
    source.addEventListener("end", function () {
      source.close();
      list.setAttribute("data-follow", "ended");
      if (onEnd) onEnd();
    });
    return source;
  }

  function agentPage() {
    var list = document.getElementById("transcript");
    if (!list || list.getAttribute("data-follow") !== "yes") return;
    var source = follow(list, list.getAttribute("data-run"), list.getAttribute("data-offset"));
    window.addEventListener("pagehide", function () { if (source) source.close(); });
  }

  function answer(response) {
    if (response.ok) return response.status === 204 ? null : response.json();
    return response.text().then(function (body) {
      var said = body;
      try { said = JSON.parse(body).error.message; } catch (ignored) { /* plain text */ }
      throw new Error(said || "The town did not answer.");
    });
  }

  function panel() {
    var dialog = document.getElementById("agent-panel");
    if (!dialog || !window.fetch) return;
    var log = document.getElementById("agent-panel-log");
    var title = document.getElementById("agent-panel-title");
    var facts = document.getElementById("agent-panel-facts");
    var spent = document.getElementById("agent-panel-spent");
    var link = document.getElementById("agent-panel-page");
    var form = document.getElementById("agent-panel-say");
    var box = document.getElementById("agent-panel-text");
    var status = document.getElementById("agent-panel-status");
    var source = null;
    var agent = "";

    function stop() {
      if (source) source.close();
      source = null;
    }

    function describe(data) {
      var run = data.run;
      facts.textContent = run
        ? (data.bead_title || data.bead_id || "") + " · run " + run.id + " · " +
          run.status.replace("_", " ") + " · " + run.runtime
        : "No run yet.";
      if (run) {
        spent.textContent = run.tokens_in.toLocaleString("en-US") + " tokens in, " +
          run.tokens_out.toLocaleString("en-US") + " out, $" + Number(run.cost_usd || 0).toFixed(4);
      }
    }

    function load(name) {
      return fetch("/api/agents/" + encodeURIComponent(name) + "?lines=200", {
        credentials: "same-origin"
      }).then(answer);
    }

    function open(name) {
      stop();
      agent = name;
      log.textContent = "";
      log.removeAttribute("data-follow");
      title.textContent = name;
      link.href = "/agents/" + encodeURIComponent(name);
      facts.textContent = "Loading…";
      spent.textContent = status.textContent = "";
      if (!dialog.open) dialog.showModal();
      box.focus();
      load(name).then(function (data) {
        if (agent !== name) return; /* another card was opened meanwhile */
        describe(data);
        data.transcript.forEach(function (line) { add(log, line); });
        log.scrollTop = log.scrollHeight;
        var run = data.run;
        if (!run || ACTIVE.indexOf(run.status) < 0) return;
        source = follow(log, run.id, data.offset, function (line) {
          if (line.kind === "spent") spent.textContent = line.text.replace(/^· /, "");
        }, function () {
          load(name).then(function (now) { if (agent === name) describe(now); });
        });
      }).catch(function (err) { facts.textContent = err.message; });
    }

    document.addEventListener("click", function (e) {
      if (!e.target.closest) return;
      var opener = e.target.closest("[data-open-agent]");
      var card = e.target.closest(".card");
      if (!opener && card && !e.target.closest("a, button, input, select, textarea, label, form")) {
        opener = card.querySelector("[data-open-agent]"); /* the card itself opens its agent */
      }
      var name = opener ? opener.getAttribute("data-open-agent") : "";
      if (!name) return;
      e.preventDefault();
      open(name);
    });
    document.getElementById("agent-panel-close").addEventListener("click", function () {
      dialog.close();
    });
    dialog.addEventListener("close", stop);
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var text = box.value.trim();
      if (!text || !agent) return;
      var body = new URLSearchParams({ text: text, csrf_token: csrf });
      status.textContent = "Sending…";
      fetch("/agents/" + encodeURIComponent(agent) + "/nudge", {
        method: "POST",
        headers: { "X-CSRF-Token": csrf, "HX-Request": "true" },
        body: body,
        credentials: "same-origin"
      }).then(answer).then(function () {
        box.value = "";
        status.textContent = "Sent to " + agent + ": it reads it with gt mail check.";
      }).catch(function (err) { status.textContent = err.message; });
    });
  }

  function start() {
    agentPage();
    panel();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
