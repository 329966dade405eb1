/* The board: move cards between columns by drag and drop, or from the keyboard (focus a card,
   press a column's first letter: o, p, r, c, f). Each move is a POST to /api/beads/ID/move,
   which applies the lifecycle as the CLI does; a refused move puts the card back and says why.
   Listeners sit on the document, so cards swapped in by live updates need nothing new. */
(function () {
  "use strict";

  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var KEYS = { o: "open", p: "in_progress", r: "in_review", c: "closed", f: "failed" };
  var dragged = null;

  function say(text) {
    var box = document.getElementById("board-says");
    if (!box) return;
    box.textContent = text;
    box.hidden = !text;
  }

  function column(status) {
    return document.querySelector('[data-board] section[data-status="' + status + '"]');
  }

  function words(status) { return status.replace("_", " "); }

  /* Show the card in its new column at once; put it back where it was if the town refuses. */
  function move(card, to) {
    var from = card.closest("section[data-status]");
    if (!from || from.getAttribute("data-status") === to) return;
    var target = column(to);
    var id = card.getAttribute("data-bead");
    var home = { list: card.parentNode, next: card.nextSibling };
    if (target) target.querySelector(".cards").prepend(card);
    card.classList.add("moving");
    say("");
    fetch("/api/beads/" + encodeURIComponent(id) + "/move", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ status: to }),
      credentials: "same-origin"
    }).then(function (response) {
      if (response.ok) return null;
      return response.json().then(function (body) {
        var e = body.error || {};
        return (e.message || body.detail || "The town refused the move.") + (e.hint ? " " + e.hint : "");
      }, function () { return "The town refused the move."; });
    }, function () {
      return "The town did not answer; " + id + " stays where it was.";
    }).then(function (refused) {
      card.classList.remove("moving");
      if (refused) {
        home.list.insertBefore(card, home.next && home.next.parentNode === home.list ? home.next : null);
        card.setAttribute("data-refused", "yes");
        say(refused);
        card.focus();
      } else {
        say("");
        document.dispatchEvent(new CustomEvent("gt:acted"));
        /* The live region is swapped in fresh: find the card again to keep the focus on it. */
        setTimeout(function () {
          var again = document.getElementById("bead-" + id);
          if (again && document.activeElement === document.body) again.focus();
        }, 400);
      }
    });
  }

  document.addEventListener("dragstart", function (e) {
    var card = e.target.closest && e.target.closest("[data-board] .card");
    if (!card) return;
    dragged = card;
    e.dataTransfer.effectAllowed = "move";
    e.dataTransfer.setData("text/plain", card.getAttribute("data-bead"));
    card.classList.add("dragging");
  });

  document.addEventListener("dragend", function () {
    if (dragged) dragged.classList.remove("dragging");
    dragged = null;
    document.querySelectorAll("section.over").forEach(function (s) { s.classList.remove("over"); });
  });

  document.addEventListener("dragover", function (e) {
    var zone = e.target.closest && e.target.closest("[data-board] section[data-drop]");
    if (!zone || !dragged) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = "move";
    zone.classList.add("over");
  });

  document.addEventListener("dragleave", function (e) {
    var zone = e.target.closest && e.target.closest("[data-board] section[data-drop]");
    if (zone && !zone.contains(e.relatedTarget)) zone.classList.remove("over");
  });

  document.addEventListener("drop", function (e) {
    var zone = e.target.closest && e.target.closest("[data-board] section[data-drop]");
    if (!zone || !dragged) return;
    e.preventDefault();
    zone.classList.remove("over");
    var card = dragged;
    dragged = null;
    card.classList.remove("dragging");
    move(card, zone.getAttribute("data-status"));
  });

  document.addEventListener("keydown", function (e) {
    var card = e.target;
    if (!card.matches || !card.matches("[data-board] .card") || e.ctrlKey || e.metaKey || e.altKey) return;
    var to = KEYS[e.key];
    if (!to) return;
    e.preventDefault();
    if (!column(to)) {
      say("The " + words(to) + " column is filtered out; clear the status filter to move there.");
      return;
    }
    move(card, to);
  });
})();
