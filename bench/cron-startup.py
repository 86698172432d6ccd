#!/usr/bin/env python3
"""Start-up with 100 000 cron jobs against the same with 100 000 every jobs (issue 10).

Creates N jobs of one kind on a fresh data directory, stops Ksana (SIGTERM), starts it again and
times exec -> first 200 on /health, and reads the "Ready:" log line; median of REPS restarts.
  KSANA_BIN=dist/ksana python3 bench/cron-startup.py [N] [REPS]
"""
import http.client, json, os, signal, socket, subprocess, sys, tempfile, threading, time

BIN = os.environ.get("KSANA_BIN", "dist/ksana")
N = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
REPS = int(sys.argv[2]) if len(sys.argv) > 2 else 3
KEY = "bench-key"
SCHEDULES = {
    "every": lambda i: {"kind": "every", "every": f"{3600 + i % 600}s"},
    # Distinct expressions and zones, as real jobs have: 60 x 24 x 7 shapes over a handful of zones.
    "cron": lambda i: {"kind": "cron", "cron": f"{i % 60} {i // 60 % 24} * * {i // 1440 % 7}",
                       "time_zone": ["UTC", "Europe/Berlin", "America/New_York", "Asia/Shanghai", "Australia/Sydney"][i % 5]},
}

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

def start(data, port):
    env = {"PATH": os.environ["PATH"], "DATA_DIR": data, "PORT": str(port), "AUTH_KEYS_FILE": os.path.join(data, "..", "keys"),
           "LOG_LEVEL": "Information"}
    t0 = time.perf_counter()
    p = subprocess.Popen([BIN], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    while True:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            c.request("GET", "/health")
            if c.getresponse().status == 200:
                return p, (time.perf_counter() - t0) * 1000
        except OSError:
            time.sleep(0.002)

def stop(p):
    p.send_signal(signal.SIGTERM)
    out, _ = p.communicate(timeout=60)
    return out

def create(port, kind, n, threads=8):
    def work(start_index):
        c = http.client.HTTPConnection("127.0.0.1", port)
        headers = {"Content-Type": "application/json", "Authorization": f"ApiKey {KEY}"}
        for i in range(start_index, n, threads):
            body = json.dumps({"name": f"j{i}", "http": {"method": "POST", "url": "http://127.0.0.1:9/x"}, "schedule": SCHEDULES[kind](i)})
            c.request("POST", "/jobs", body, headers)
            r = c.getresponse(); r.read()
            if r.status != 201:
                raise SystemExit(f"create {i}: {r.status}")
    ts = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    t0 = time.perf_counter()
    for t in ts: t.start()
    for t in ts: t.join()
    return time.perf_counter() - t0

def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])

results = {}
for kind in ("every", "cron"):
    root = tempfile.mkdtemp(prefix=f"ksana-{kind}-")
    with open(os.path.join(root, "keys"), "w") as f: f.write(KEY + "\n")
    data = os.path.join(root, "data")
    port = free_port()
    p, _ = start(data, port)
    secs = create(port, kind, N)
    stop(p)
    samples, ready, rss = [], [], []
    for _ in range(REPS):
        p, ms = start(data, port)
        time.sleep(1)
        rss.append(rss_kb(p.pid))
        out = stop(p)
        samples.append(ms)
        ready += [l for l in out.splitlines() if "Ready:" in l]
    samples.sort()
    results[kind] = {"create_s": round(secs, 1), "startup_ms": [round(s) for s in samples], "median_ms": round(samples[len(samples) // 2]),
                     "rss_mb": round(sorted(rss)[len(rss) // 2] / 1024, 1), "ready": ready[-1].strip() if ready else ""}
    print(kind, json.dumps(results[kind]), flush=True)
print(f"start-up ratio cron/every: {results['cron']['median_ms'] / results['every']['median_ms']:.2f}x")
