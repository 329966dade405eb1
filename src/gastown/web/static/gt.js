/* Gas Town dashboard: live updates, streamed mayor replies, small helpers (agent_log.js
   follows transcripts).
   Plain JavaScript with no dependencies besides htmx; loaded as a file (the pages allow no
   inline scripts). */
(function () {
  "use strict";

  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  function flash(text) {
    var box = document.getElementById("flash");
    if (!box) return;
    box.textContent = text;
    box.hidden = !text;
    if (text) {
      clearTimeout(flash.timer);
      flash.timer = setTimeout(function () { box.hidden = true; }, 8000);
    }
  }

  /* Live regions: each [data-live] element lists the topics it follows ("*" for any change);
     a change from the server (or an action on this page) makes htmx fetch it again. */
  function typing(region) {
    var active = document.activeElement;
    return !!active && region.contains(active) && /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName);
  }

  function refresh(topics) {
    document.querySelectorAll("[data-live]").forEach(function (el) {
      var wanted = el.getAttribute("data-live").split(/\s+/);
      var hit = !topics || wanted.indexOf("*") >= 0 || wanted.some(function (t) {
        return topics.indexOf(t) >= 0;
      });
      if (!hit || !window.htmx) return;
      /* Never swap a field out from under someone typing: catch up once they leave it. */
      if (typing(el)) el.setAttribute("data-stale", "yes");
      else window.htmx.trigger(el, "gt:refresh");
    });
  }

  document.addEventListener("htmx:beforeSwap", function (e) {
    var region = e.detail.target;
    if (region && region.hasAttribute("data-live") && typing(region)) {
      e.detail.shouldSwap = false; /* someone started typing while the refresh was on its way */
      region.setAttribute("data-stale", "yes");
    }
  });

  /* A form marked data-swap-errors shows a refusal in place: the server sends the page back
     with its sentence beside the form (and what was typed), swapped in like a success. */
  document.addEventListener("htmx:beforeSwap", function (e) {
    var from = e.detail.requestConfig && e.detail.requestConfig.elt;
    if (e.detail.isError && from && from.closest && from.closest("[data-swap-errors]")) {
      e.detail.shouldSwap = true;
      e.detail.isError = false;
    }
  });

  document.addEventListener("focusout", function (e) {
    var region = e.target.closest && e.target.closest("[data-live][data-stale]");
    if (!region || (e.relatedTarget && region.contains(e.relatedTarget))) return;
    region.removeAttribute("data-stale");
    if (window.htmx) window.htmx.trigger(region, "gt:refresh");
  });

  function follow() {
    if (!window.EventSource || !document.querySelector("[data-live]")) return;
    var source = new EventSource("/api/stream");
    var lost = false;
    source.addEventListener("hello", function () {
      if (lost) refresh(null); /* reconnected: changes may have been missed */
      lost = false;
      document.body.setAttribute("data-live-state", "connected");
    });
    source.addEventListener("change", function (e) {
      var change = JSON.parse(e.data);
      document.body.setAttribute("data-last-event", change.last_id);
      refresh(change.topics);
    });
    source.addEventListener("error", function () {
      lost = true;
      document.body.setAttribute("data-live-state", "reconnecting");
    });
    window.addEventListener("pagehide", function () { source.close(); });
  }

  document.addEventListener("gt:acted", function () { flash(""); refresh(null); });
  document.addEventListener("htmx:responseError", function (e) {
    var xhr = e.detail.xhr;
    var text = xhr && xhr.responseText ? xhr.responseText : "The town did not answer.";
    if (xhr && (xhr.getResponseHeader("content-type") || "").indexOf("json") >= 0) {
      try { var body = JSON.parse(text); text = body.detail || (body.error && body.error.message) || text; } catch (_) { /* keep the text */ }
    }
    flash(text);
  });
  document.addEventListener("htmx:sendError", function () { flash("The town did not answer."); });
  document.addEventListener("htmx:afterRequest", function (e) {
    var form = e.target;
    if (e.detail.successful && form.tagName === "FORM" && form.hasAttribute("data-reset")) form.reset();
  });

  /* Server-sent events read from a fetch() response (EventSource cannot POST). */
  function readEvents(response, onEvent) {
    var reader = response.body.getReader();
    var decoder = new TextDecoder();
    var buffer = "";
    function pump() {
      return reader.read().then(function (step) {
        if (step.done) return;
        buffer += decoder.decode(step.value, { stream: true });
        var cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          var frame = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          var name = "message", data = [];
          frame.split("\n").forEach(function (line) {
            if (line.indexOf("event: ") === 0) name = line.slice(7);
            else if (line.indexOf("data: ") === 0) data.push(line.slice(6));
          });
          if (data.length) onEvent(name, JSON.parse(data.join("\n")));
        }
        return pump();
      });
    }
    return pump();
  }

  function said(log, role, text) {
    var item = document.createElement("li");
    item.className = "said " + role;
    var who = document.createElement("span");
    who.className = "who";
    who.textContent = role;
    var body = document.createElement("span");
    body.className = "text";
    body.textContent = text;
    item.appendChild(who);
    item.appendChild(document.createTextNode(" "));
    item.appendChild(body);
    log.appendChild(item);
    log.scrollTop = log.scrollHeight;
    return body;
  }

  function chat() {
    var form = document.getElementById("mayor-form");
    var log = document.getElementById("chat-log");
    if (log) log.scrollTop = log.scrollHeight;  /* open at the latest message */
    if (!form || !window.fetch) return;
    var box = document.getElementById("mayor-text");
    var send = document.getElementById("mayor-send");
    box.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); form.requestSubmit(); }
    });
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var text = box.value.trim();
      if (!text) return;
      var hint = log.querySelector(".hint");
      if (hint) hint.remove();
      said(log, "you", text);
      var reply = said(log, "mayor", "");
      reply.parentNode.classList.add("streaming");
      box.value = "";
      send.disabled = true;
      fetch("/api/mayor/stream", {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
        body: JSON.stringify({ text: text }),
        credentials: "same-origin"
      }).then(function (response) {
        if (!response.ok) {
          return response.json().then(function (body) {
            throw new Error((body.error && body.error.message) || body.detail || "The mayor did not answer.");
          });
        }
        return readEvents(response, function (name, data) {
          if (name === "text") reply.textContent += data.text;
          else if (name === "done" && !reply.textContent) reply.textContent = data.reply || "(The mayor said nothing.)";
          else if (name === "error") throw new Error(data.message);
          log.scrollTop = log.scrollHeight;
        });
      }).catch(function (err) {
        reply.parentNode.classList.add("failed");
        reply.textContent = err.message;
      }).then(function () {
        reply.parentNode.classList.remove("streaming");
        reply.parentNode.setAttribute("data-done", "yes");
        send.disabled = false;
        box.focus();
      });
    });
  }

  /* The convoy form grows a task row at a time. */
  function taskRows() {
    var add = document.getElementById("add-task");
    var rows = document.getElementById("task-rows");
    if (!add || !rows) return;
    add.hidden = false;
    add.addEventListener("click", function () {
      var last = rows.lastElementChild;
      var copy = last.cloneNode(true);
      var n = rows.children.length + 1;
      copy.querySelectorAll("input").forEach(function (input) {
        input.id = input.id.replace(/^t\d+/, "t" + n);
        input.value = input.name === "task_key" ? String(n) : "";
      });
      copy.querySelectorAll("label").forEach(function (label) {
        label.htmlFor = label.htmlFor.replace(/^t\d+/, "t" + n);
        label.textContent = label.textContent.replace(/\d+/, String(n));
      });
      rows.appendChild(copy);
      copy.querySelector('input[name="task_title"]').focus();
    });
  }

  function start() {
    follow();
    chat();
    taskRows();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
