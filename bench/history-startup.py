#!/usr/bin/env python3
"""Start-up with jobs that have run: a journal that holds each job's kept runs, as real ones do.

The resources scenario's start-up rows use jobs that never ran, whose journal holds one line a
job. A journal of jobs that have run holds up to RUNS_KEPT (20) run lines a job besides, and
those lines are most of what replay reads. This creates N jobs firing every second at a local
nginx that answers 204, lets them run for SECONDS, stops Ksana (SIGTERM), and times REPS
restarts: exec -> first 200 on /health, the CPU the process had used by then, resident
memory 1 s later, and its peak (VmHWM) 3 s after ready: replay's, or the start-up compaction's
and the first seconds of firing, whichever is higher. The same N jobs before they ever ran (one
restart series on a copy of the journal taken right after they were created, all quiet) are
measured first, for the ratio.
  KSANA_BIN=dist/ksana python3 bench/history-startup.py [N] [SECONDS] [REPS]
nginx must be installed (./build.sh bench installs it).
"""
import http.client, json, os, shutil, signal, socket, subprocess, sys, tempfile, threading, time

BIN = os.path.abspath(os.environ.get("KSANA_BIN", "dist/ksana"))
N = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
SECONDS = int(sys.argv[2]) if len(sys.argv) > 2 else 30
REPS = int(sys.argv[3]) if len(sys.argv) > 3 else 5
KEY = "bench-key"
TICK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_nginx(root, port):
    prefix = os.path.join(root, "nginx")
    os.makedirs(os.path.join(prefix, "tmp"))
    conf = os.path.join(prefix, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"""worker_processes 1; daemon off; user root; pid {prefix}/nginx.pid; error_log {prefix}/error.log warn;
events {{ worker_connections 4096; }}
http {{ access_log off; keepalive_requests 100000000; keepalive_timeout 300s;
  client_body_temp_path {prefix}/tmp; proxy_temp_path {prefix}/tmp; fastcgi_temp_path {prefix}/tmp;
  uwsgi_temp_path {prefix}/tmp; scgi_temp_path {prefix}/tmp;
  server {{ listen 127.0.0.1:{port} backlog=4096; location / {{ return 204; }} }} }}
""")
    p = subprocess.Popen([shutil.which("nginx") or "/usr/sbin/nginx", "-c", conf, "-p", prefix],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(500):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return p
        except OSError:
            time.sleep(0.01)
    raise SystemExit("nginx did not start")


def start(data, port, keys):
    env = {"PATH": os.environ["PATH"], "DATA_DIR": data, "PORT": str(port), "AUTH_KEYS_FILE": keys,
           "OUTBOUND_ALLOW": "127.0.0.1"}
    t0 = time.perf_counter()
    p = subprocess.Popen([BIN], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            c.request("GET", "/health")
            if c.getresponse().status == 200:
                ms = (time.perf_counter() - t0) * 1000
                with open(f"/proc/{p.pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                return p, ms, (int(fields[11]) + int(fields[12])) * 1000 / TICK
        except OSError:
            if p.poll() is not None:
                raise SystemExit(f"ksana exited with {p.returncode}")
            time.sleep(0.002)


def stop(p):
    p.send_signal(signal.SIGTERM)
    if p.wait(timeout=120) != 0:
        raise SystemExit(f"ksana exited with {p.returncode} on SIGTERM")


def create(port, callee_port, n, every, threads=8):
    def work(first):
        c = http.client.HTTPConnection("127.0.0.1", port)
        headers = {"Content-Type": "application/json", "X-API-Key": KEY}
        for i in range(first, n, threads):
            body = json.dumps({"name": f"h{i}", "http": {"method": "GET", "url": f"http://127.0.0.1:{callee_port}/hook/{i}"},
                               "schedule": {"kind": "every", "every": every}, "max_retries": 0, "timeout": "10s"})
            c.request("POST", "/jobs", body, headers)
            r = c.getresponse(); r.read()
            if r.status != 201:
                raise SystemExit(f"create {i}: {r.status}")
    ts = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    for t in ts: t.start()
    for t in ts: t.join()


def status_mb(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024


def journal(data):
    path = os.path.join(data, "journal.jsonl")
    runs = 0
    with open(path, "rb") as f:
        for line in f:
            runs += b'"op":"run"' in line[:40]
    return os.path.getsize(path) / 2**20, runs


def restarts(data, port, keys):
    ready, cpu, rss, peak = [], [], [], []
    for _ in range(REPS):
        p, ms, cpu_ms = start(data, port, keys)
        time.sleep(1)
        rss.append(status_mb(p.pid, "VmRSS"))
        time.sleep(2)
        peak.append(status_mb(p.pid, "VmHWM"))
        stop(p)
        ready.append(ms); cpu.append(cpu_ms)
    med = lambda xs: sorted(xs)[len(xs) // 2]
    return {"ready_ms": [round(x) for x in ready], "median_ready_ms": round(med(ready)),
            "median_cpu_ms": round(med(cpu)), "median_rss_mb": round(med(rss), 1),
            "peak_mb": [round(x) for x in peak], "median_peak_mb": round(med(peak), 1)}


root = tempfile.mkdtemp(prefix="ksana-history-")
nginx = None
try:
    keys = os.path.join(root, "keys")
    with open(keys, "w") as f: f.write(KEY + "\n")
    callee_port, port = free_port(), free_port()
    nginx = start_nginx(root, callee_port)
    results = {}
    for kind, every in (("quiet", "3600s"), ("ran", "1s")):
        data = os.path.join(root, kind)
        p, _, _ = start(data, port, keys)
        create(port, callee_port, N, every)
        if kind == "ran":
            time.sleep(SECONDS)
        stop(p)
        size, runs = journal(data)
        results[kind] = {"journal_mb": round(size, 1), "run_lines": runs, **restarts(data, port, keys)}
        print(kind, json.dumps(results[kind]), flush=True)
    q, r = results["quiet"], results["ran"]
    print(f"{N} jobs with {r['run_lines']} run lines ({r['journal_mb']} MB): ready {r['median_ready_ms']} ms, "
          f"CPU to ready {r['median_cpu_ms']} ms, {r['median_rss_mb']} MB (peak {r['median_peak_mb']} MB); before they ran: "
          f"ready {q['median_ready_ms']} ms, CPU {q['median_cpu_ms']} ms, {q['median_rss_mb']} MB (peak {q['median_peak_mb']} MB); ratio {r['median_ready_ms'] / q['median_ready_ms']:.1f}x")
finally:
    if nginx is not None:
        nginx.send_signal(signal.SIGQUIT)
        nginx.wait()
    shutil.rmtree(root, ignore_errors=True)
