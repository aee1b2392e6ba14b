/* JXC page behaviour, no framework: the phone menu, toasts, and the "/" shortcut.
   Loaded with defer, so the document is parsed when this runs. */
(function () {
  "use strict";

  var app = document.querySelector(".app");
  var toggle = document.querySelector(".topbar .menu-toggle");

  // Phone menu: .menu-toggle opens the sidebar over the page; a click outside it,
  // Escape, or growing past the phone breakpoint closes it.
  function setNav(open) {
    if (!app) return;
    app.classList.toggle("nav-open", open);
    if (toggle) toggle.setAttribute("aria-expanded", open ? "true" : "false");
  }

  document.addEventListener("click", function (event) {
    if (event.target.closest(".menu-toggle")) {
      setNav(!app.classList.contains("nav-open"));
      return;
    }
    if (app && app.classList.contains("nav-open") && !event.target.closest(".sidebar")) {
      setNav(false);
    }
    var flash = event.target.closest(".flash");
    if (flash) dismiss(flash);
  });

  var wide = window.matchMedia("(min-width: 768px)");
  var onWide = function () { if (wide.matches) setNav(false); };
  if (wide.addEventListener) wide.addEventListener("change", onWide);

  // Toasts: .flash elements leave after 4 s (errors stay until clicked).
  function dismiss(el) {
    if (!el.isConnected || el.classList.contains("leaving")) return;
    el.classList.add("leaving");
    setTimeout(function () { el.remove(); }, 320);
  }

  function armFlashes(root) {
    var found = root.matches && root.matches(".flash") ? [root] : [];
    if (root.querySelectorAll) found = found.concat(Array.prototype.slice.call(root.querySelectorAll(".flash")));
    found.forEach(function (el) {
      if (el.dataset.armed || el.classList.contains("error")) return;
      el.dataset.armed = "1";
      setTimeout(function () { dismiss(el); }, 4000);
    });
  }

  armFlashes(document);
  // htmx fires htmx:load on every element it adds (including hx-swap-oob toasts).
  document.addEventListener("htmx:load", function (event) { armFlashes(event.target); });

  // Keyboard: "/" focuses the page's first search box; Escape closes the phone menu.
  function typing(el) {
    if (!el) return false;
    var tag = el.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || el.isContentEditable;
  }

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && app && app.classList.contains("nav-open")) {
      setNav(false);
      if (toggle) toggle.focus();
      return;
    }
    if (event.key === "/" && !event.ctrlKey && !event.metaKey && !event.altKey && !typing(event.target)) {
      var search = document.querySelector("input[type=search]");
      if (search) {
        event.preventDefault();
        search.focus();
        search.select();
      }
    }
  });
})();
