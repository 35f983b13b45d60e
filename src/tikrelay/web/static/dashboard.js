/* The dashboard's one script, served by tikrelay itself (no CDN, no inline script). Each page
   works without it; with it, the overview's tables get charts, a job's page follows the job
   live and the jobs list follows the jobs, through Server-Sent Events (GET /api/jobs/{id}/events
   and GET /api/jobs/events, web/live.py). */
"use strict";

(function () {
  var COLOURS = ["#2f6fbe", "#c0392b", "#7d8a2e", "#8e44ad", "#d35400", "#16a085"];

  function cellText(cell) {
    return (cell ? cell.textContent : "").trim();
  }

  /* A chart above each table with data-chart: first column the labels, one series per other
     column (named in data-series). The table stays: it is the accessible form of the chart. */
  function drawCharts() {
    if (typeof window.Chart !== "function") {
      return;
    }
    var dark = window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches;
    window.Chart.defaults.color = dark ? "#ddd" : "#333";
    window.Chart.defaults.borderColor = dark ? "#444" : "#ddd";
    document.querySelectorAll("table[data-chart]").forEach(function (table) {
      var names = (table.dataset.series || "value").split(",");
      var labels = [];
      var series = names.map(function () { return []; });
      table.querySelectorAll("tbody tr").forEach(function (row) {
        labels.push(cellText(row.cells[0]));
        names.forEach(function (_, n) {
          series[n].push(Number(cellText(row.cells[n + 1])) || 0);
        });
      });
      var box = document.createElement("div");
      box.className = "chart";
      var canvas = document.createElement("canvas");
      canvas.setAttribute("role", "img");
      canvas.setAttribute("aria-label", cellText(table.caption) + " (the table below has the figures)");
      box.appendChild(canvas);
      var wrap = table.closest(".table-wrap") || table;
      var folded = document.createElement("details");
      folded.className = "figures-table";
      var summary = document.createElement("summary");
      summary.textContent = "The figures";
      folded.appendChild(summary);
      wrap.parentNode.insertBefore(box, wrap);
      wrap.parentNode.insertBefore(folded, wrap);
      folded.appendChild(wrap);
      new window.Chart(canvas, {
        type: table.dataset.chart,
        data: {
          labels: labels,
          datasets: names.map(function (name, n) {
            return { label: name, data: series[n], backgroundColor: COLOURS[n % COLOURS.length] };
          })
        },
        options: {
          indexAxis: table.dataset.axis === "y" ? "y" : "x",
          responsive: true,
          maintainAspectRatio: false,
          animation: false,
          plugins: { legend: { display: names.length > 1 } },
          scales: {
            x: { beginAtZero: true, ticks: { precision: 0 } },
            y: { beginAtZero: true, ticks: { precision: 0 } }
          }
        }
      });
    });
  }

  function details(data) {
    if (!data || typeof data !== "object") {
      return "";
    }
    return Object.keys(data).map(function (key) {
      var value = data[key];
      return key + "=" + (typeof value === "string" ? value : JSON.stringify(value));
    }).join(", ");
  }

  function shownTime(iso) {
    if (!iso) {
      return "—";
    }
    var moment = new Date(iso);
    return moment.toISOString().slice(0, 19).replace("T", " ") + " UTC";
  }

  function cell(row, text, className) {
    var td = document.createElement("td");
    td.textContent = text;
    if (className) {
      td.className = className;
    }
    row.appendChild(td);
    return td;
  }

  /* The job page: new timeline rows and the job's status as they happen. */
  function followJob() {
    var box = document.querySelector("[data-job-events]");
    if (!box || box.hasAttribute("data-final") || typeof window.EventSource !== "function") {
      return;
    }
    var state = document.getElementById("live-state");
    var status = document.getElementById("job-status");
    var body = document.querySelector("#timeline tbody");
    var stream = new window.EventSource(box.dataset.jobEvents);
    state.textContent = "following live";
    stream.addEventListener("open", function () {
      state.textContent = "following live";
    });
    stream.addEventListener("timeline", function (message) {
      var event = JSON.parse(message.data);
      if (body.querySelector('tr[data-event="' + event.id + '"]')) {
        return;
      }
      var row = document.createElement("tr");
      row.dataset.event = String(event.id);
      row.className = "live";
      var time = document.createElement("time");
      time.dateTime = event.at;
      time.textContent = shownTime(event.at);
      cell(row, "").appendChild(time);
      cell(row, event.type);
      cell(row, details(event.data), "details");
      body.appendChild(row);
    });
    stream.addEventListener("job", function (message) {
      var job = JSON.parse(message.data);
      status.textContent = job.status;
      status.dataset.status = job.status;
      document.getElementById("job-attempts").textContent =
        job.attempts + " of " + job.max_attempts;
      document.getElementById("job-finished").textContent = shownTime(job.finished_at);
      document.getElementById("job-error").textContent = job.error_message
        ? job.error_kind + ": " + job.error_message
        : "—";
    });
    stream.addEventListener("end", function () {
      stream.close();
      state.textContent = "finished";
      box.setAttribute("data-final", "");
      /* A finished job cannot be cancelled; retrying it means reloading its page. */
      document.querySelectorAll('form[action$="/cancel"]').forEach(function (form) {
        form.remove();
      });
    });
    stream.addEventListener("error", function () {
      if (stream.readyState !== window.EventSource.CLOSED) {
        state.textContent = "connection lost: reconnecting…";
      }
    });
  }

  /* Jinja's truncate(length), as the jobs list shows an error: whole words, then "...". */
  function truncated(text, length) {
    if (text.length <= length + 5) {
      return text;
    }
    var cut = text.slice(0, length - 3);
    var space = cut.lastIndexOf(" ");
    return (space >= 0 ? cut.slice(0, space) : cut) + "...";
  }

  /* The cells of a job's row after its id, as templates/jobs.html writes them. */
  function jobCells(job) {
    var row = document.createElement("tr");
    cell(row, job.kind);
    var status = document.createElement("span");
    status.className = "status";
    status.dataset.status = job.status;
    status.textContent = job.status;
    cell(row, "").appendChild(status);
    cell(row, job.attempts + "/" + job.max_attempts);
    var time = document.createElement("time");
    time.dateTime = job.updated_at;
    time.textContent = shownTime(job.updated_at);
    cell(row, "").appendChild(time);
    var error = cell(row, "");
    if (job.error_message) {
      var text = document.createElement("span");
      text.className = "error-text";
      text.textContent = job.error_kind + ": " + truncated(job.error_message, 120);
      error.appendChild(text);
    }
    return Array.prototype.slice.call(row.cells);
  }

  function newJobRow(job) {
    var row = document.createElement("tr");
    row.dataset.job = String(job.id);
    var head = document.createElement("th");
    head.scope = "row";
    var link = document.createElement("a");
    link.href = "/jobs/" + job.id;
    link.textContent = String(job.id);
    head.appendChild(link);
    row.appendChild(head);
    return row;
  }

  /* The jobs list: jobs of its filters appear as they are created or enter its status, rows
     change with their jobs and go when their job leaves its status. Only the first page adds
     rows (above data-live-floor); an older page updates and drops its own. */
  function followJobs() {
    var table = document.querySelector("table[data-jobs-events]");
    if (!table || typeof window.EventSource !== "function") {
      return;
    }
    var body = table.tBodies[0];
    var wrap = table.closest(".table-wrap") || table;
    var empty = document.getElementById("no-jobs");
    var state = document.getElementById("live-state");
    var floor = table.hasAttribute("data-live-floor") ? Number(table.dataset.liveFloor) : null;
    var stream = new window.EventSource(table.dataset.jobsEvents);

    function shown() {
      var any = body.rows.length > 0;
      wrap.hidden = !any;
      if (empty) {
        empty.hidden = any;
      }
    }

    function place(row, id) {
      var rows = body.rows;
      for (var n = 0; n < rows.length; n++) {
        if (Number(rows[n].dataset.job) < id) {
          body.insertBefore(row, rows[n]);
          return;
        }
      }
      body.appendChild(row);
    }

    state.textContent = "following live";
    stream.addEventListener("open", function () {
      state.textContent = "following live";
    });
    stream.addEventListener("job", function (message) {
      var job = JSON.parse(message.data);
      var row = body.querySelector('tr[data-job="' + job.id + '"]');
      if (!row) {
        if (floor === null || job.id <= floor) {
          return;
        }
        row = newJobRow(job);
        place(row, job.id);
      }
      /* The id's cell (and a focused link in it) stays; the others are written anew. */
      while (row.cells.length > 1) {
        row.deleteCell(1);
      }
      jobCells(job).forEach(function (td) {
        row.appendChild(td);
      });
      row.classList.remove("live");
      void row.offsetWidth; /* restarts the highlight of a row that changes again */
      row.classList.add("live");
      shown();
    });
    stream.addEventListener("leave", function (message) {
      var job = JSON.parse(message.data);
      var row = body.querySelector('tr[data-job="' + job.id + '"]');
      if (row) {
        row.remove();
        shown();
      }
    });
    stream.addEventListener("error", function () {
      if (stream.readyState !== window.EventSource.CLOSED) {
        state.textContent = "connection lost: reconnecting…";
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    drawCharts();
    followJob();
    followJobs();
  });
})();
