/* Live console pages (docs/adr/0131-live-console.md).
 *
 * A fragment is any element with an id and data-live='[["station","CP-1"],["fleet",null]]': what it
 * shows depends on those things. The page opens one socket (/ws/console/), subscribes to every thing
 * its fragments depend on and, when the server says one of them changed, fetches the page again with
 * the user's session and swaps in the fragments that depend on it. Once subscribed it fetches them
 * once, for what changed before. No timer asks the server anything: a fetch follows a change, and at
 * most one fetch runs at a time (changes that arrive meanwhile are served by one more fetch).
 */
(function () {
  "use strict";

  var socket = null;
  var retryDelay = 1000;
  var subscribed = {};          // "concern key" -> true
  var dirty = {};               // fragment id -> true, waiting for the next fetch
  var fetching = false;

  function watchKey(concern, key) { return concern + " " + (key === null || key === undefined ? "" : key); }

  function fragments(root) {
    return Array.prototype.slice.call((root || document).querySelectorAll("[data-live][id]"));
  }

  function watchesOf(element) {
    try { return JSON.parse(element.getAttribute("data-live")) || []; } catch (e) { return []; }
  }

  function setState(state) {
    document.body.setAttribute("data-live-state", state);
    var badge = document.getElementById("console-live-state");
    if (badge) {
      badge.textContent = {open: "live", connecting: "connecting…", closed: "reconnecting…",
                           denied: "not live (no permission)"}[state] || state;
      badge.className = "console-live-state console-live-" + state;
    }
  }

  function subscribeAll() {
    if (!socket || socket.readyState !== WebSocket.OPEN) { return; }
    var wanted = [];
    fragments().forEach(function (element) {
      watchesOf(element).forEach(function (watch) {
        var key = watchKey(watch[0], watch[1]);
        if (!subscribed[key]) {
          subscribed[key] = true;
          wanted.push({concern: watch[0], key: watch[1] === null ? undefined : watch[1]});
        }
      });
    });
    if (wanted.length) { socket.send(JSON.stringify({subscribe: wanted})); }
  }

  function refresh() {
    if (fetching) { return; }
    var ids = Object.keys(dirty);
    if (!ids.length) { return; }
    dirty = {};
    fetching = true;
    fetch(window.location.href, {credentials: "same-origin", headers: {"X-Console-Live": "1"}})
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.text();
      })
      .then(function (text) {
        var fresh = new DOMParser().parseFromString(text, "text/html");
        var replaced = [];
        ids.forEach(function (id) {
          var current = document.getElementById(id);
          var next = fresh.getElementById(id);
          if (current && next) {
            current.replaceWith(document.importNode(next, true));
            replaced.push(id);
          }
        });
        document.body.setAttribute("data-live-updates",
          String(Number(document.body.getAttribute("data-live-updates") || 0) + 1));
        document.dispatchEvent(new CustomEvent("console:updated", {detail: {ids: replaced}}));
        subscribeAll();  // new rows or panels may depend on more things
      })
      .catch(function (error) { console.warn("console: could not refresh", error); })
      .then(function () {
        fetching = false;
        refresh();
      });
  }

  function changed(concern, key) {
    var wanted = watchKey(concern, key);
    fragments().forEach(function (element) {
      if (watchesOf(element).some(function (watch) { return watchKey(watch[0], watch[1]) === wanted; })) {
        dirty[element.id] = true;
      }
    });
    refresh();
  }

  function connect() {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    setState("connecting");
    socket = new WebSocket(scheme + window.location.host + "/ws/console/");
    var first = true;  // the first answer to this socket's subscriptions
    socket.onopen = function () {
      retryDelay = 1000;
      subscribed = {};
      subscribeAll();
    };
    socket.onmessage = function (message) {
      var data = JSON.parse(message.data);
      if (data.subscribed) {
        if (!first) { return; }
        first = false;
        if (!data.subscribed.length && data.denied && data.denied.length) { setState("denied"); return; }
        setState("open");
        // What changed between the page's rendering (or the last socket's end) and now was told to
        // nobody: fetch the fragments once.
        fragments().forEach(function (element) { dirty[element.id] = true; });
        refresh();
        return;
      }
      if (data.concern) { changed(data.concern, data.key); }
    };
    socket.onclose = function (event) {
      socket = null;
      if (event.code === 4403) { setState("denied"); return; }  // no console session
      setState("closed");
      window.setTimeout(connect, retryDelay);  // reconnect after a failure, backing off
      retryDelay = Math.min(retryDelay * 2, 30000);
    };
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (fragments().length && "WebSocket" in window) { connect(); }
  });
})();
