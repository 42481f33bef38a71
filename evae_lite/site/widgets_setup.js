// Served by the book (evae_lite/site). Lets the ipywidgets HTML manager (1.x) work offline beside
// MathJax 3: its fonts load from this folder, and its MathJax 2 typeset call is answered.
(function () {
  var here = document.currentScript.src.replace(/[^/]*$/, "");
  window.__jupyter_widgets_assets_path__ = here;
  window.requirejs.config({paths: {"@jupyter-widgets/html-manager/dist": here.slice(0, -1)}});
  function mathjax2Shim() {
    var mj = window.MathJax;
    if (mj && mj.version && !mj.Hub && mj.typesetPromise) {
      mj.Hub = {Queue: function (job) {
        var el = job && job[2];
        mj.typesetPromise(el ? [el] : undefined).catch(function () {});
      }};
    }
  }
  document.addEventListener("DOMContentLoaded", mathjax2Shim);
  window.addEventListener("load", mathjax2Shim);
})();
