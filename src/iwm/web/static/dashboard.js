// The partner dashboard's behaviour: the live print queue (server-sent events or polling,
// offline banner), new-order alerts (chime, title badge, notifications, highlight),
// print and mark (one job, marked after the print dialog returns, undoable), bulk
// selection, and dates in the shop's time zone with the interface language's conventions.
(function () {
  "use strict";

  var TEXT = {};
  var STORE = window.localStorage;
  var PAPERS = {
    "10x15": { size: "100mm 150mm", portrait: true },
    "13x18": { size: "127mm 178mm", portrait: true },
    "a4": { size: "A4", portrait: true },
    "letter": { size: "letter", portrait: true }
  };

  function text(key, values) {
    var s = TEXT[key] || key;
    Object.keys(values || {}).forEach(function (k) { s = s.split("{" + k + "}").join(values[k]); });
    return s;
  }

  function csrf() { return document.body.getAttribute("data-csrf") || ""; }

  // -- dates and times: in the shop's zone, in the language's conventions -----------------

  function localTimes(root) {
    if (!root || !root.querySelectorAll) return;
    root.querySelectorAll("time[data-local]").forEach(function (el) {
      var when = new Date(el.getAttribute("datetime"));
      if (isNaN(when.getTime())) return;
      var locale = el.getAttribute("data-locale") || document.documentElement.lang;
      var options = { dateStyle: "medium", timeStyle: "short" };
      var tz = el.getAttribute("data-tz");
      if (tz) options.timeZone = tz;
      try {
        el.textContent = new Intl.DateTimeFormat(locale, options).format(when);
      } catch (e) {
        el.textContent = when.toLocaleString();
      }
    });
  }

  // -- the toast with Undo ----------------------------------------------------------------

  var toastTimer = null;
  function toast(message, undo) {
    var box = document.getElementById("toast");
    if (!box) return;
    box.querySelector("[data-toast-text]").textContent = message;
    var button = box.querySelector("[data-toast-undo]");
    button.hidden = !undo;
    button.onclick = undo ? function () { box.hidden = true; undo(); } : null;
    box.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () { box.hidden = true; }, 10000);
  }

  // -- marking ------------------------------------------------------------------------------

  function markMany(ids, status) {
    var body = new URLSearchParams();
    ids.forEach(function (id) { body.append("id", id); });
    body.append("status", status);
    return fetch("/dashboard/orders/mark", {
      method: "POST",
      headers: { "X-CSRF-Token": csrf(), "Content-Type": "application/x-www-form-urlencoded" },
      body: body,
      credentials: "same-origin"
    }).then(function (resp) {
      if (!resp.ok) throw new Error("mark failed: " + resp.status);
      refreshAll();
    }, function (error) {
      toast(text("not_saved"));
      throw error;
    });
  }

  function refreshAll() {
    if (document.getElementById("live")) refreshLive();
    var list = document.getElementById("order-list");
    var status = document.getElementById("photo-status");
    if (window.htmx && (list || status)) {
      var target = list ? "#order-list" : "#photo-status";
      window.htmx.ajax("GET", window.location.pathname + window.location.search, {
        target: target, select: target, swap: "outerHTML"
      });
    }
  }

  // -- printing -----------------------------------------------------------------------------

  function paper() {
    var chosen = STORE.getItem("iwm.paper") || "10x15";
    return PAPERS[chosen] ? chosen : "10x15";
  }

  function copies() {
    var n = parseInt(STORE.getItem("iwm.copies") || "1", 10);
    return n >= 1 && n <= 9 ? n : 1;
  }

  var pageRule = null;
  function setPageSize() {
    // Through the CSS object model: the Content-Security-Policy allows no inline styles.
    var sheet = Array.prototype.find.call(document.styleSheets, function (s) {
      return s.href && s.href.indexOf("dashboard.css") !== -1;
    });
    if (!sheet) return;
    if (pageRule !== null) { sheet.deleteRule(pageRule); pageRule = null; }
    pageRule = sheet.insertRule("@page { size: " + PAPERS[paper()].size + "; margin: 0; }", sheet.cssRules.length);
  }

  function printable(el) {
    var holder = el.closest("[data-order-id]");
    if (!holder) return null;
    return { id: holder.getAttribute("data-order-id"), photo: holder.getAttribute("data-photo") };
  }

  // Prints the orders' photos as one job, one photo per sheet; marks them printed once
  // the print dialog has returned (window.print blocks until then), with Undo.
  function printAndMark(orders) {
    orders = orders.filter(function (o) { return o && o.photo; });
    if (!orders.length) return Promise.resolve();
    var area = document.getElementById("print-area");
    area.replaceChildren();
    var images = [];
    orders.forEach(function (o) {
      for (var c = 0; c < copies(); c++) {
        var sheet = document.createElement("div");
        sheet.className = "print-sheet";
        var img = new Image();
        img.src = o.photo;
        img.alt = "";
        sheet.appendChild(img);
        area.appendChild(sheet);
        images.push(img);
      }
    });
    return Promise.all(images.map(function (img) { return img.decode(); })).then(function () {
      images.forEach(function (img) {
        // A landscape photo on portrait paper is turned to fill the sheet, never cropped.
        if (img.naturalWidth > img.naturalHeight && PAPERS[paper()].portrait) {
          img.parentNode.classList.add("turned");
        }
      });
      setPageSize();
      window.print();
      area.replaceChildren();
      var ids = orders.map(function (o) { return o.id; });
      ids.forEach(markSeen);
      return markMany(ids, "printed").then(function () {
        toast(text("marked", { n: ids.length }), function () {
          markMany(ids, "not_printed").then(function () { toast(text("unmarked")); });
        });
      });
    }, function () {
      area.replaceChildren();
      toast(text("print_failed"));
    });
  }

  function unprintedCards() {
    return Array.prototype.map.call(
      document.querySelectorAll("[data-order-id][data-status='not_printed']"), printable
    );
  }

  function selectedIds() {
    return Array.prototype.map.call(
      document.querySelectorAll("input[data-pick]:checked"), function (box) { return box.value; }
    );
  }

  var picked = new Set();
  function syncSelection() {
    document.querySelectorAll("input[data-pick]").forEach(function (box) {
      box.checked = picked.has(box.value);
      var card = box.closest("[data-order-id]");
      if (card) card.classList.toggle("is-picked", box.checked);
    });
    var bulk = document.querySelector("[data-bulk]");
    if (bulk) {
      bulk.hidden = picked.size === 0;
      var count = bulk.querySelector("[data-bulk-count]");
      if (count) count.textContent = text("selected", { n: picked.size });
    }
  }

  // -- new orders: chime, title badge, notifications, highlight until seen ------------------

  var baseTitle = document.title;
  var known = null;            // order ids already on the screen
  var unseen = new Set(JSON.parse(sessionStorage.getItem("iwm.unseen") || "[]"));

  function saveUnseen() {
    sessionStorage.setItem("iwm.unseen", JSON.stringify(Array.from(unseen)));
    document.title = (unseen.size ? "(" + unseen.size + ") " : "") + baseTitle;
  }

  function markSeen(id) {
    if (unseen.delete(id)) {
      saveUnseen();
      var card = document.getElementById("order-" + id);
      if (card) card.classList.remove("is-new");
    }
  }

  function soundOn() { return STORE.getItem("iwm.sound") === "on"; }

  function showSoundButton(on) {
    var button = document.querySelector("[data-enable-sound]");
    if (!button) return;
    button.setAttribute("aria-pressed", on ? "true" : "false");
    button.textContent = button.getAttribute(on ? "data-on" : "data-off");
  }

  function chime() {
    var audio = document.getElementById("chime");
    if (!audio || !soundOn()) return;
    audio.currentTime = 0;
    var played = audio.play();
    if (played && played.catch) {
      // The browser refused sound without a tap (after a reload): ask for one again.
      played.catch(function () { STORE.removeItem("iwm.sound"); showSoundButton(false); });
    }
  }

  function notificationsOn() {
    return "Notification" in window && Notification.permission === "granted" &&
      STORE.getItem("iwm.notify") === "on";
  }

  function showNotificationButton() {
    var button = document.querySelector("[data-enable-notifications]");
    if (!button || !("Notification" in window)) return;
    button.hidden = false;
    if (Notification.permission === "denied") {
      button.textContent = button.getAttribute("data-blocked");
      button.disabled = true;
      return;
    }
    var on = notificationsOn();
    button.setAttribute("aria-pressed", on ? "true" : "false");
    button.textContent = button.getAttribute(on ? "data-on" : "data-off");
  }

  function announce(card) {
    var title = text("new_order", { number: card.getAttribute("data-number") });
    if (notificationsOn()) {
      try {
        new Notification(title, { body: card.getAttribute("data-customer") || "", tag: card.id });
      } catch (e) { /* some browsers allow notifications from a service worker only */ }
    }
  }

  var seenObserver = "IntersectionObserver" in window ? new IntersectionObserver(function (entries) {
    entries.forEach(function (entry) {
      var card = entry.target;
      clearTimeout(card._seenTimer);
      if (entry.isIntersecting && document.visibilityState === "visible") {
        // Seen: on screen for a moment while the page is in front.
        card._seenTimer = setTimeout(function () { markSeen(card.getAttribute("data-order-id")); }, 4000);
      }
    });
  }, { threshold: 0.6 }) : null;

  function onLiveLoaded(live) {
    var cards = live.querySelectorAll(".order-card[data-status='not_printed']");
    var ids = Array.prototype.map.call(cards, function (c) { return c.getAttribute("data-order-id"); });
    var fresh = [];
    if (known === null) {
      known = new Set(ids);  // what the page opened with is not news
    } else {
      cards.forEach(function (card) {
        var id = card.getAttribute("data-order-id");
        if (!known.has(id)) { known.add(id); unseen.add(id); fresh.push(card); }
      });
    }
    // Orders gone from the queue (printed, or out of the window) are no longer news.
    unseen.forEach(function (id) { if (ids.indexOf(id) === -1) unseen.delete(id); });
    saveUnseen();
    cards.forEach(function (card) {
      var id = card.getAttribute("data-order-id");
      card.classList.toggle("is-new", unseen.has(id));
      if (unseen.has(id) && seenObserver) seenObserver.observe(card);
    });
    if (fresh.length) {
      chime();
      fresh.forEach(announce);
    }
    syncSelection();
  }

  // -- the live view: server-sent events, else polling; offline banner ---------------------

  function setOnline(online) {
    var banner = document.getElementById("connection");
    if (banner) banner.hidden = online;
  }

  function checkSession() {
    fetch("/dashboard/session", { headers: { "HX-Request": "true" }, credentials: "same-origin" })
      .then(function (resp) {
        var target = resp.headers.get("HX-Redirect");
        if (target) window.location.href = target;  // signed out: to the sign-in page
      }, function () { /* still offline */ });
  }

  var refreshTimer = null;
  function refreshLive() {
    // Notices in a burst make one request.
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(function () {
      var live = document.getElementById("live");
      if (!live || !window.htmx) return;
      window.htmx.ajax("GET", "/dashboard/orders/live", {
        target: "#live", swap: "outerHTML", values: { v: live.getAttribute("data-fingerprint") }
      });
    }, 50);
  }

  function startLive() {
    var live = document.getElementById("live");
    if (!live) return;
    onLiveLoaded(live);
    if (live.getAttribute("data-live-mode") === "sse" && "EventSource" in window) {
      var source = new EventSource("/dashboard/orders/stream");
      var lostTimer = null;
      source.addEventListener("change", function () {
        refreshLive();
        if (window.htmx) window.htmx.trigger(document.body, "iwm-kiosks");
      });
      source.addEventListener("signed-out", function () { source.close(); checkSession(); });
      source.onopen = function () {
        clearTimeout(lostTimer);
        setOnline(true);
        // Catch up with what happened before the stream was open or while it was away:
        // the orders and the kiosks' trouble strip alike.
        refreshLive();
        if (window.htmx) window.htmx.trigger(document.body, "iwm-kiosks");
      };
      source.onerror = function () {
        // The stream ends every few minutes and reconnects at once: only a lasting loss
        // is shown.
        clearTimeout(lostTimer);
        lostTimer = setTimeout(function () {
          if (source.readyState !== EventSource.OPEN) { setOnline(false); checkSession(); }
        }, 4000);
        if (source.readyState === EventSource.CLOSED) {
          // A refused stream (a 401 page): the browser gives up, so look and retry.
          checkSession();
          setTimeout(startLive, 5000);
        }
      };
    }
    // Ages ("5 min ago") and the window's edges move with time.
    setInterval(refreshLive, 60000);
  }

  document.addEventListener("htmx:sendError", function (event) {
    setOnline(false);
    checkSession();
    // A tap that could not reach the server says so (a refresh of its own need not).
    var verb = event.detail && event.detail.requestConfig && event.detail.requestConfig.verb;
    if (verb && verb.toLowerCase() !== "get") toast(text("not_saved"));
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    if (event.detail && event.detail.successful) setOnline(true);
  });

  // -- kiosks page: cards refresh themselves unless a control is in use --------------------

  function startKioskGrid() {
    var grid = document.getElementById("kiosk-grid");
    if (!grid) return;
    setInterval(function () {
      var grid = document.getElementById("kiosk-grid");
      if (!grid || !window.htmx) return;
      if (grid.contains(document.activeElement) || grid.querySelector("details.issue-code[open]")) return;
      window.htmx.ajax("GET", "/dashboard/kiosks/grid", { target: "#kiosk-grid", swap: "outerHTML" });
    }, 20000);
  }

  // -- wiring ---------------------------------------------------------------------------------

  document.addEventListener("DOMContentLoaded", function () {
    var data = document.body.getAttribute("data-text");
    if (data) TEXT = JSON.parse(data);
    localTimes(document);
    var paperSelect = document.querySelector("[data-paper]");
    if (paperSelect) paperSelect.value = paper();
    var copiesInput = document.querySelector("[data-copies]");
    if (copiesInput) copiesInput.value = copies();
    showSoundButton(soundOn());
    showNotificationButton();
    startLive();
    startKioskGrid();
  });

  document.addEventListener("htmx:load", function (event) {
    localTimes(event.target);
    if (event.target.id === "live") onLiveLoaded(event.target);
  });

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") {
      document.querySelectorAll(".order-card.is-new").forEach(function (card) {
        if (seenObserver) { seenObserver.unobserve(card); seenObserver.observe(card); }
      });
    }
  });

  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el.matches("[data-paper]")) STORE.setItem("iwm.paper", el.value);
    if (el.matches("[data-copies]")) STORE.setItem("iwm.copies", String(Math.min(9, Math.max(1, parseInt(el.value, 10) || 1))));
    if (el.matches("input[data-pick]")) {
      if (el.checked) picked.add(el.value); else picked.delete(el.value);
      syncSelection();
    }
  });

  document.addEventListener("click", function (event) {
    var el = event.target.closest && event.target.closest("button, summary, a, [data-order-id]");
    if (!el) return;
    var card = el.closest("[data-order-id]");
    if (card) markSeen(card.getAttribute("data-order-id"));
    if (el.matches("[data-print]")) {
      event.preventDefault();
      window.print();
    } else if (el.matches("[data-print-mark]")) {
      event.preventDefault();
      printAndMark([printable(el)]);
    } else if (el.matches("[data-print-all]")) {
      event.preventDefault();
      printAndMark(unprintedCards());
    } else if (el.matches("[data-print-selected]")) {
      var ids = selectedIds();
      printAndMark(ids.map(function (id) {
        return printable(document.querySelector("[data-order-id='" + id + "'] input[data-pick]"));
      }));
      picked.clear();
      syncSelection();
    } else if (el.matches("[data-mark-selected]")) {
      var chosen = selectedIds();
      picked.clear();
      syncSelection();
      markMany(chosen, "printed").then(function () {
        toast(text("marked", { n: chosen.length }), function () { markMany(chosen, "not_printed"); });
      });
    } else if (el.matches("[data-clear-selection]")) {
      picked.clear();
      syncSelection();
    } else if (el.matches("[data-enable-sound]")) {
      if (soundOn()) {
        STORE.removeItem("iwm.sound");
        showSoundButton(false);
        return;
      }
      // The tap itself lets the page play sound; the choice is remembered.
      STORE.setItem("iwm.sound", "on");
      showSoundButton(true);
      chime();
    } else if (el.matches("[data-enable-notifications]")) {
      if (notificationsOn()) {
        STORE.removeItem("iwm.notify");
        showNotificationButton();
        return;
      }
      Notification.requestPermission().then(function (permission) {
        if (permission === "granted") STORE.setItem("iwm.notify", "on");
        showNotificationButton();
      });
    }
  });
})();
