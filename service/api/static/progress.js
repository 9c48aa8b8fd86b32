// The plan job's progress page: read GET /plan-jobs/{id} (with the sign-in cookie) every
// second and show it; when the job has stored a plan, open that plan's week. No value is put
// into the page as HTML: only textContent and attributes.
(function () {
  "use strict";
  var box = document.getElementById("hv-progress");
  if (!box) { return; }
  var url = box.getAttribute("data-job-url");
  var doneUrl = box.getAttribute("data-done-url"); // a re-plan: its changes, before approving
  var finished = ["done", "failed", "cancelled", "interrupted"];
  var statusZh = {
    queued: "排队中", running: "计算中", done: "完成", failed: "失败",
    cancelled: "已取消", interrupted: "已中断"
  };
  var show = function (id, text) {
    var el = document.getElementById(id);
    if (el) { el.textContent = text; }
  };
  var tick = function () {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (job) {
        show("hv-status", (statusZh[job.status] || "") + " " + job.status);
        show("hv-elapsed", Math.round(job.elapsed_s));
        show("hv-placed", job.visits_placed);
        show("hv-total", job.visits_total);
        show("hv-cost", job.best_cost === null ? "–" : job.best_cost);
        show("hv-message", job.message || "");
        var bar = document.getElementById("hv-bar");
        bar.max = job.visits_total || 1;
        bar.value = job.visits_placed;
        if (finished.indexOf(job.status) >= 0) {
          document.getElementById("hv-cancel").hidden = true;
          if (job.plan_id !== null) {
            var target = doneUrl || "/plans/" + encodeURIComponent(job.plan_id) + "/week";
            document.getElementById("hv-open").setAttribute("href", target);
            document.getElementById("hv-result").hidden = false;
            if (job.status === "done") { window.location.assign(target); }
          }
          return;
        }
        window.setTimeout(tick, 1000);
      })
      .catch(function (err) {
        show("hv-message", "无法读取进度，稍后重试 / cannot read the progress, retrying: " + err.message);
        window.setTimeout(tick, 3000);
      });
  };
  tick();
})();
