// A classic script, inline in every page that holds an explorer. explorer.js is an ES module,
// and a browser runs no module script of a page opened from disk (file://): there, and
// wherever explorer.js did not load, each explorer gets a line that says why and, from disk,
// the one command that serves the book's folder.
document.addEventListener("DOMContentLoaded", () => {
  // module scripts run before DOMContentLoaded: an explorer without its entry never started
  for (const root of document.querySelectorAll(".evae-explorer")) {
    if (window.evaeExplorers && window.evaeExplorers[root.dataset.name]) continue;
    // the notebook's own line, if its output has one, is replaced
    const status = root.querySelector(".evae-explorer-status") ||
      root.appendChild(document.createElement("p"));
    status.className = "evae-explorer-status evae-explorer-failed";
    status.textContent = "";
    const frames = " The sliders above show the same manifolds from pre-rendered frames.";
    if (location.protocol === "file:") {
      // the book's folder: the pages' _static/ lies in it (data-base is relative to the page)
      const folder = new URL("..", new URL(root.dataset.base, document.baseURI));
      let dir = decodeURIComponent(folder.pathname);
      if (/^\/[A-Za-z]:\//.test(dir)) dir = dir.slice(1); // file:///C:/... on Windows
      const page = decodeURIComponent(location.pathname).slice(
        decodeURIComponent(folder.pathname).length);
      const command = document.createElement("code");
      command.textContent = `python -m http.server -d "${dir.replace(/\/$/, "")}"`;
      const url = document.createElement("code");
      url.textContent = `http://localhost:8000/${page}`;
      status.append(
        "The live explorer does not run in a page opened from disk: the browser loads its " +
          "decoder only from a web server. Serve the book's folder with ",
        command,
        " and open ",
        url,
        "." + frames,
      );
    } else {
      status.append("The live explorer could not start (its script did not load)." + frames);
    }
  }
});
