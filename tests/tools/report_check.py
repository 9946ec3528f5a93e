#!/usr/bin/env python3
"""Opens an llava-eval HTML report in headless Chromium and checks it, as a user's
browser would see it. Talks the DevTools protocol over --remote-debugging-pipe
(file descriptors 3 and 4, NUL-separated JSON), so it needs only the standard library.

usage: report_check.py REPORT.html SCREENSHOT.png [TEXT-THAT-MUST-SHOW-AS-TEXT ...]

Checks: the page loads; no JavaScript dialog (alert) opens; no script exception
and no error-level console or log entry (CSP violations included); the main
sections and charts exist; the only <script> is our application/json data block
and it parses; no element carries an on* handler attribute, no javascript: link,
no <img>, <iframe>, <object> or <embed>; each extra argument appears in the page's
text (so hostile strings were rendered as text, not markup). Writes a PNG screenshot.
REPORT_CHECK_CLIP="Y,HEIGHT" limits the screenshot to that band of the page.
Prints one line per problem and "report_check: ok" at the end; exit 0 ok, 1 failed,
77 when Chromium is not installed (tests skip then)."""
import base64, fcntl, json, os, select, shutil, subprocess, sys, tempfile, time

EXPECT_IDS = ["summary", "metrics", "resolution", "detail", "pope", "quant", "confusion", "roc", "samples",
              "sample-table", "flipsonly", "llava-eval-data"]

PROBE = r"""(() => {
  const r = {};
  r.missing = %s.filter(id => !document.getElementById(id));
  r.svg = document.querySelectorAll('svg').length;
  r.csp = !!document.querySelector('meta[http-equiv="Content-Security-Policy"]');
  const scripts = [...document.querySelectorAll('script')];
  r.scripts = scripts.map(s => s.type || '(none)');
  try { JSON.parse(document.getElementById('llava-eval-data').textContent); r.json = true; }
  catch (e) { r.json = String(e); }
  r.handlers = [];
  for (const el of document.querySelectorAll('*'))
    for (const a of el.attributes)
      if (a.name.toLowerCase().startsWith('on')) r.handlers.push(el.tagName + '[' + a.name + ']');
  r.jslinks = [...document.querySelectorAll('[href],[src],[action],[formaction]')]
    .filter(e => /^\s*javascript:/i.test(e.getAttribute('href') || e.getAttribute('src') || e.getAttribute('action') || e.getAttribute('formaction') || '')).length;
  r.embeds = document.querySelectorAll('img,iframe,object,embed,frame,base,form').length;
  r.text = document.body ? document.body.innerText + ' ' + [...document.querySelectorAll('[title]')].map(e => e.title).join(' ') : '';
  r.height = Math.max(document.documentElement.scrollHeight, 600);
  return JSON.stringify(r);
})()""" % json.dumps(EXPECT_IDS)


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        p = shutil.which(name)
        if p:
            return p
    return None


class Browser:
    def __init__(self, exe, profile):
        r_in, w_in = os.pipe()      # we write commands, the browser reads fd 3
        r_out, w_out = os.pipe()    # the browser writes fd 4, we read
        hi_r = fcntl.fcntl(r_in, fcntl.F_DUPFD, 10)   # above 4, so the dup2s cannot clobber them
        hi_w = fcntl.fcntl(w_out, fcntl.F_DUPFD, 10)

        def child():
            os.dup2(hi_r, 3)
            os.dup2(hi_w, 4)

        args = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--no-default-browser-check",
                "--disable-extensions", "--mute-audio", "--disable-dev-shm-usage", "--hide-scrollbars", "--remote-debugging-pipe",
                "--user-data-dir=" + profile, "about:blank"]
        self.proc = subprocess.Popen(args, preexec_fn=child, close_fds=False, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for fd in (r_in, w_out, hi_r, hi_w):
            os.close(fd)
        self.wfd, self.rfd = w_in, r_out
        self.buf = b""
        self.next_id = 0
        self.events = []

    def send(self, method, params=None, session=None):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.wfd, json.dumps(msg).encode() + b"\0")
        return self.next_id

    def read_one(self, deadline):
        while b"\0" not in self.buf:
            left = deadline - time.time()
            if left <= 0:
                raise TimeoutError("no answer from chromium")
            ready, _, _ = select.select([self.rfd], [], [], left)
            if ready:
                chunk = os.read(self.rfd, 1 << 20)
                if not chunk:
                    raise EOFError("chromium closed the pipe")
                self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method, params=None, session=None, timeout=30):
        mid = self.send(method, params, session)
        deadline = time.time() + timeout
        while True:
            m = self.read_one(deadline)
            if m.get("id") == mid:
                if "error" in m:
                    raise RuntimeError("%s: %s" % (method, m["error"]))
                return m.get("result", {})
            if "method" in m:
                self.events.append(m)

    def wait_event(self, name, timeout=30):
        deadline = time.time() + timeout
        for i, e in enumerate(self.events):
            if e["method"] == name:
                return e
        while True:
            m = self.read_one(deadline)
            if "method" in m:
                self.events.append(m)
                if m["method"] == name:
                    return m

    def close(self):
        try:
            self.send("Browser.close")
        except OSError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    report, shot, must = os.path.abspath(sys.argv[1]), sys.argv[2], sys.argv[3:]
    exe = find_chromium()
    if not exe:
        print("report_check: chromium not installed")
        return 77
    profile = tempfile.mkdtemp(prefix="lv-chromium-")
    problems = []
    b = Browser(exe, profile)
    try:
        target = b.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        sid = b.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for dom in ("Page.enable", "Runtime.enable", "Log.enable"):
            b.call(dom, session=sid)
        b.call("Emulation.setDeviceMetricsOverride",
               {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False}, session=sid)
        b.events.clear()
        b.call("Page.navigate", {"url": "file://" + report}, session=sid)
        b.wait_event("Page.loadEventFired", timeout=30)
        time.sleep(0.3)
        res = json.loads(b.call("Runtime.evaluate", {"expression": PROBE, "returnByValue": True},
                                session=sid)["result"]["value"])
        height = min(int(res["height"]), 16000)
        b.call("Emulation.setDeviceMetricsOverride",
               {"width": 1280, "height": height, "deviceScaleFactor": 1, "mobile": False}, session=sid)
        shot_args = {"format": "png", "captureBeyondViewport": True}
        clip = os.environ.get("REPORT_CHECK_CLIP")   # "Y,HEIGHT": only that band of the page
        if clip:
            y, hh = (int(v) for v in clip.split(","))
            shot_args["clip"] = {"x": 0, "y": y, "width": 1280, "height": hh, "scale": 1}
        png = b.call("Page.captureScreenshot", shot_args, session=sid, timeout=60)
        with open(shot, "wb") as f:
            f.write(base64.b64decode(png["data"]))
        # drain late events briefly
        try:
            while True:
                b.events.append(b.read_one(time.time() + 0.3))
        except TimeoutError:
            pass
    except Exception as e:
        problems.append("browser: %s" % e)
        res = None
    finally:
        b.close()
        shutil.rmtree(profile, ignore_errors=True)
    for e in b.events:
        m, p = e.get("method"), e.get("params", {})
        if m == "Page.javascriptDialogOpening":
            problems.append("a dialog opened: %s %r" % (p.get("type"), p.get("message")))
        elif m == "Runtime.exceptionThrown":
            problems.append("script error: %s" % p.get("exceptionDetails", {}).get("text"))
        elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            problems.append("console error: %s" % p.get("args"))
        elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            problems.append("log error: %s" % p["entry"].get("text"))
    if res is not None:
        if res["missing"]:
            problems.append("missing elements: %s" % res["missing"])
        if res["svg"] < 1:
            problems.append("no SVG chart")
        if not res["csp"]:
            problems.append("no Content-Security-Policy meta tag")
        if res["scripts"] != ["application/json"]:
            problems.append("script elements: %s" % res["scripts"])
        if res["json"] is not True:
            problems.append("data block does not parse: %s" % res["json"])
        if res["handlers"]:
            problems.append("event-handler attributes: %s" % res["handlers"][:5])
        if res["jslinks"]:
            problems.append("javascript: links: %d" % res["jslinks"])
        if res["embeds"]:
            problems.append("img/iframe/object/embed/base/form elements: %d" % res["embeds"])
        for t in must:
            if t not in res["text"]:
                problems.append("not shown as text: %r" % t)
        print("report_check: %d svg charts, screenshot %s (%d px tall)" % (res["svg"], shot, height))
    for p in problems:
        print("report_check: FAIL " + p)
    if not problems:
        print("report_check: ok")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
