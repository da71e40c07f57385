"""report.py: bench/run's table (Markdown, for the terminal and README.md)
and its chart (a hand-written SVG: no plotting library), both from the
results JSON alone, so an old results file can be redrawn:

    python3 bench/report.py bench/out/results-*.json   # table on stdout, .svg beside it
"""
import html
import json
import math
import sys

STEP_LABELS = [
    ("read", "read (cat)", "limit"),
    ("sha256", "sha256 (openssl)", "limit"),
    ("cp", "cp -r + sync", "limit"),
    ("uring_cp", "io_uring copy + syncfs", "limit"),
    ("sluice", "sluice", "sluice"),
    ("sluice_reingest", "sluice re-ingest (unchanged)", "sluice"),
    ("gdcmanon", "gdcmanon -e", "peer"),
    ("dcmodify", "cp -r + dcmodify", "peer"),
    ("vips_tiffsave", "vips tiffsave --pyramid (Q 90)", "peer"),
    ("vips_dzsave", "vips dzsave (Q 90)", "peer"),
    ("bcftools", "bcftools norm + sort + index", "peer"),
    ("samtools", "samtools sort + view -C + index", "peer"),
]
FORMAT_PEERS = ("vips_tiffsave", "vips_dzsave", "bcftools", "samtools")


def steps_in_order(w):
    """(key, label, kind) for each measured step of a workload."""
    st = w["steps"]
    out = []
    for key, label, kind in STEP_LABELS:
        if key == "sluice":
            for k in sorted((k for k in st if k.startswith("sluice_t")), key=lambda k: int(k[8:])):
                out.append((k, f"sluice --threads {k[8:]}", "sluice"))
        elif key in st:
            if key in ("gdcmanon", "dcmodify"):
                label += f" (x{w['best_threads']})"
            if key in FORMAT_PEERS:  # run with sluice's most threads
                tmax = max(int(k[8:]) for k in st if k.startswith("sluice_t"))
                label += f" (VIPS_CONCURRENCY {tmax})" if key.startswith("vips") else f" (-@ / --threads {tmax})"
            out.append((key, label, kind))
    return out


def check_text(w, key):
    c = w.get("checks", {})
    ts = sorted(int(k[8:]) for k in w["steps"] if k.startswith("sluice_t"))
    if key.startswith("sluice_t"):
        s = c.get("sluice")
        if s is None or key != f"sluice_t{ts[-1]}":  # the last store is exported and checked
            return "verified"
        if "summary" in s:
            return f"verified; {s['summary']}"
        if "leaks" in s:
            return (f"verified; {s['files']} exported, {s['unparsable']}/{s['parsed']} unparsable, "
                    f"dciodvfy {s['dciodvfy_errors']} errors in {s.get('iod_checked', '?')}, "
                    f"canaries in {s['leaks']['files']} files")
        return f"verified; {s['files']} files exported, bytes identical"
    if key in c and "summary" in c[key]:
        ex = w["steps"].get(key, {}).get("exit_codes")
        return c[key]["summary"] + (f"; exit {ex[0]}" if ex else "")
    if key in ("gdcmanon", "dcmodify") and key in c:
        p = c[key]
        parts = []
        if p["files"] != w["files"]:
            parts.append(f"{w['files'] - p['files']} missing")
        if p["unparsable"]:
            parts.append(f"{p['unparsable']}/{p['parsed']} unparsable")
        new = p["dciodvfy_errors"] - c.get("input", {}).get("dciodvfy_errors", 0)
        if new > 0:
            parts.append(f"dciodvfy {new} errors in {p.get('iod_checked', '?')}")
        lk = p["leaks"]
        if lk["files"]:
            kinds = ", ".join(f"{k} {lk[k]}" for k in ("text", "dates", "uids") if lk[k])
            parts.append(f"**leaks: {lk['files']} files** ({kinds})")
        if lk["paths"]:
            parts.append(f"{lk['paths']} paths name patients")
        ex = w["steps"].get(key, {}).get("exit_codes")
        if ex:
            parts.append(f"exit {ex[0]}")
        return "; ".join(parts) or "ok"
    return ""


def fmt_rate(n):
    return f"{n:.0f}" if n >= 10 else f"{n:.1f}"


def table(out):
    m = out["machine"]
    lines = [f"sluice bench, {out['date']}, commit {out['commit']}: {m['cpu']}, {m['cores']} cores, "
             f"{m['memory_bytes'] / 2**30:.0f} GiB, Linux {m['kernel']}, {m['filesystem']}; "
             f"page cache {out['page_cache']}"
             + ("; DAMON pageout evicts idle pages" if any("pageout" in d for d in m.get("damon", [])) else "")
             + f"; load average {m['load_average_at_start'][0]:.1f} at the start"
             + (f", {out['load_average_at_end'][0]:.1f} at the end" if "load_average_at_end" in out else "")
             + f"; median of {out['args']['runs']} run(s)"
             + ("" if out["args"].get("quick") else " after a warm-up"), ""]
    for name, w in out["workloads"].items():
        lines.append(f"### {name}: {w['files']} files, {w['bytes'] / 2**20:.0f} MiB ({w['kind']})")
        lines.append("")
        lines.append("| step | median s | min-max s | user s | sys s | peak RSS MiB | written MiB | MiB/s | files/s | output |")
        lines.append("|---|---|---|---|---|---|---|---|---|---|")
        for key, label, _ in steps_in_order(w):
            s = w["steps"][key]
            t = s["wall_median"]
            lines.append(
                f"| {label} | {t:.2f} | {s['wall_min']:.2f}-{s['wall_max']:.2f} | {s['user_median']:.2f} "
                f"| {s['sys_median']:.2f} | {s['rss_kib_max'] / 1024:.0f} | {s['write_bytes_median'] / 2**20:.0f} "
                f"| {fmt_rate(w['bytes'] / 2**20 / t)} | {fmt_rate(w['files'] / t)} | {check_text(w, key)} |")
        r = w.get("ratios")
        if r:
            lines.append("")
            parts = [f"sluice ({r['threads']} threads): {r['sluice_files_per_s']:.0f} files/s, "
                     f"{r['sluice_MiB_per_s']:.0f} MiB/s",
                     f"wall {r['sluice_wall_over_cp_wall']:.2f}x cp's",
                     f"{r['speed_vs_cp']:.2f}x cp's speed",
                     f"{r['fraction_of_copy_limit']:.2f} of the copy limit (faster of cp, io_uring copy)",
                     f"{r['fraction_of_sha256']:.2f} of sha256",
                     f"{r['fraction_of_read']:.2f} of read"]
            for peer, who in (("uring_cp", "the io_uring copy's"), ("gdcmanon", "gdcmanon's"),
                              ("dcmodify", "dcmodify's"), ("vips_tiffsave", "vips tiffsave's"),
                              ("vips_dzsave", "vips dzsave's"), ("bcftools", "the bcftools pipeline's"),
                              ("samtools", "the samtools pipeline's")):
                if f"speed_vs_{peer}" in r:
                    parts.append(f"{r['speed_vs_' + peer]:.2f}x {who} speed")
                if f"rss_vs_{peer}" in r:
                    parts.append(f"peak RSS {r['rss_vs_' + peer]:.2f}x {who}")
            lines.append("Ratios: " + "; ".join(parts) + ".")
            if r.get("sluice_rejected"):
                lines.append("")
                lines.append(f"**sluice rejected the input**: {r['sluice_rejected']} (its times are those "
                             f"of the rejection)")
            if r.get("targets"):
                lines.append("")
                lines.append("Targets: " + "; ".join(
                    f"{t['what']} against {t['peer']} {t['want']}: "
                    + (f"{t['got']:.2f}x {'met' if t['met'] else '**not met**'}" if t["got"] is not None
                       else "n/a (sluice rejected the input)") for t in r["targets"]) + ".")
        sc = [e for e in w.get("scaling", []) if e["scale"] != 1]
        if sc:
            lines.append("")
            lines.append("| scale | files | MiB | cp -r + sync s | sluice s | sluice / cp wall |")
            lines.append("|---|---|---|---|---|---|")
            for e in w["scaling"]:
                lines.append(f"| x{e['scale']:g} | {e['files']} | {e['bytes'] / 2**20:.0f} | "
                             f"{e['cp']['wall_median']:.2f} | {e['sluice']['wall_median']:.2f} | "
                             f"{e['sluice']['wall_median'] / e['cp']['wall_median']:.2f} |")
        lines.append("")
    for p in out.get("notes", []):
        lines.append(f"- note: {p}")
    for p in out.get("problems", []):
        lines.append(f"- PROBLEM: {p}")
    return "\n".join(lines).rstrip() + "\n"


# ---- SVG ----

COLORS = {"limit": "#8c8c8c", "sluice": "#1f6fb4", "peer": "#e08a1e", "leak": "#c62828",
          "cp": "#555555", "uring_cp": "#2e7d32", "sha256": "#8e44ad"}


def nice_ticks(hi, n=4):
    if hi <= 0:
        return [0, 1]
    raw = hi / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    ticks = [0.0]
    while ticks[-1] < hi:
        ticks.append(ticks[-1] + step)
    return ticks


def esc(s):
    return html.escape(str(s), quote=True)


class Svg:
    def __init__(self):
        self.parts = []

    def add(self, s):
        self.parts.append(s)

    def text(self, x, y, s, size=12, anchor="start", color="#222", weight="normal"):
        self.add(f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
                 f'fill="{color}" font-weight="{weight}">{esc(s)}</text>')

    def rect(self, x, y, w, h, color, title=None):
        t = f"<title>{esc(title)}</title>" if title else ""
        self.add(f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0.5):.1f}" height="{h:.1f}" fill="{color}">{t}</rect>')

    def line(self, x1, y1, x2, y2, color="#999", width=1, dash=None):
        d = f' stroke-dasharray="{dash}"' if dash else ""
        self.add(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{color}" '
                 f'stroke-width="{width}"{d}/>')

    def poly(self, pts, color, width=2):
        p = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
        self.add(f'<polyline points="{p}" fill="none" stroke="{color}" stroke-width="{width}"/>')
        for x, y in pts:
            self.add(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{color}"/>')


def panel_bars(g, x0, y0, w, h, wl):
    """Throughput of each step, sluice at its best thread count."""
    g.text(x0, y0 - 8, "throughput, MiB/s (longer is faster)", 12, weight="bold")
    rows = []
    for key, label, kind in steps_in_order(wl):
        if key.startswith("sluice_t") and key != f"sluice_t{wl['best_threads']}":
            continue
        if key == "sluice_reingest":
            continue
        rate = wl["bytes"] / 2**20 / wl["steps"][key]["wall_median"]
        color = COLORS[kind]
        note = ""
        if kind == "peer":
            lk = wl["checks"].get(key, {}).get("leaks", {})
            if lk.get("files"):
                color, note = COLORS["leak"], f"leaks in {lk['files']} of {wl['files']} files"
        if key in FORMAT_PEERS:  # the thread note makes the label too long for the chart
            label = label.split(" (")[0]
        rows.append((label, rate, color, note))
    hi = max(r for _, r, _, _ in rows)
    label_w = 170
    bh = min(24, (h - 10) / max(len(rows), 1) - 6)
    scale = (w - label_w - 90) / hi
    for i, (label, rate, color, note) in enumerate(rows):
        y = y0 + i * (bh + 6)
        g.text(x0 + label_w - 6, y + bh * 0.7, label, 11, anchor="end")
        g.rect(x0 + label_w, y, rate * scale, bh, color, f"{label}: {rate:.1f} MiB/s")
        g.text(x0 + label_w + rate * scale + 4, y + bh * 0.7, f"{fmt_rate(rate)}", 11)
        if note:
            g.text(x0 + label_w + rate * scale + 40, y + bh * 0.7, note, 10, color=color, weight="bold")


def axes(g, x0, y0, w, h, xlo, xhi, yhi, xlabel, ylabel, xticks=None):
    yt = nice_ticks(yhi)
    ytop = yt[-1]
    for t in yt:
        y = y0 + h - t / ytop * h
        g.line(x0, y, x0 + w, y, "#e6e6e6")
        g.text(x0 - 5, y + 4, f"{t:g}", 10, anchor="end", color="#555")
    g.line(x0, y0 + h, x0 + w, y0 + h, "#333")
    g.line(x0, y0, x0, y0 + h, "#333")
    xt = xticks if xticks is not None else nice_ticks(xhi)
    span = (xhi - xlo) or 1
    for t in xt:
        x = x0 + (t - xlo) / span * w
        g.line(x, y0 + h, x, y0 + h + 4, "#333")
        g.text(x, y0 + h + 16, f"{t:g}", 10, anchor="middle", color="#555")
    g.text(x0 + w / 2, y0 + h + 32, xlabel, 11, anchor="middle")
    g.text(x0 - 40, y0 - 8, ylabel, 11)

    def px(x, y):
        return x0 + (x - xlo) / span * w, y0 + h - y / ytop * h
    return px, ytop


def panel_threads(g, x0, y0, w, h, wl):
    st = wl["steps"]
    ts = sorted(int(k[8:]) for k in st if k.startswith("sluice_t"))
    rate = {t: wl["bytes"] / 2**20 / st[f"sluice_t{t}"]["wall_median"] for t in ts}
    refs = [(k, wl["bytes"] / 2**20 / st[k]["wall_median"]) for k in ("cp", "uring_cp", "sha256") if k in st]
    hi = max(list(rate.values()) + [r for _, r in refs])
    xlo, xhi = (ts[0] - 0.5, ts[-1] + 0.5) if len(ts) > 1 else (ts[0] - 1, ts[0] + 1)
    g.text(x0 - 40, y0 - 24, "sluice throughput vs worker threads", 12, weight="bold")
    px, ytop = axes(g, x0, y0, w, h, xlo, xhi, hi * 1.1, "threads", "MiB/s", xticks=ts)
    names = {"cp": "cp -r + sync", "uring_cp": "io_uring copy", "sha256": "sha256"}
    last_label = None
    for k, r in sorted(refs, key=lambda kr: -kr[1]):  # top down; labels kept 12 px apart
        _, y = px(xlo, r)
        g.line(x0, y, x0 + w, y, COLORS[k], 1.5, "6,4")
        ly = y - 4 if last_label is None else max(y - 4, last_label + 12)
        g.text(x0 + w - 2, ly, f"{names[k]} {fmt_rate(r)}", 10, anchor="end", color=COLORS[k])
        last_label = ly
    g.poly([px(t, rate[t]) for t in ts], COLORS["sluice"])
    rd = wl["bytes"] / 2**20 / st["read"]["wall_median"]
    g.text(x0 + 4, y0 + 12, f"read: {fmt_rate(rd)} MiB/s" + (" (off scale)" if rd > ytop else ""),
           10, color="#555")


def panel_scale(g, x0, y0, w, h, wl):
    sc = wl.get("scaling") or []
    g.text(x0 - 40, y0 - 24, "wall time vs corpus size", 12, weight="bold")
    if len(sc) < 2:
        g.text(x0, y0 + h / 2, "(one size only: --scale)", 11, color="#777")
        return
    xs = [e["bytes"] / 2**20 for e in sc]
    hi = max(max(e["cp"]["wall_median"], e["sluice"]["wall_median"]) for e in sc)
    px, _ = axes(g, x0, y0, w, h, 0, max(xs) * 1.05, hi * 1.1, "corpus MiB", "seconds")
    g.poly([px(e["bytes"] / 2**20, e["cp"]["wall_median"]) for e in sc], COLORS["cp"])
    g.poly([px(e["bytes"] / 2**20, e["sluice"]["wall_median"]) for e in sc], COLORS["sluice"])
    last = sc[-1]
    x, y = px(last["bytes"] / 2**20, last["cp"]["wall_median"])
    g.text(x - 6, y - 8, "cp -r + sync", 10, anchor="end", color=COLORS["cp"])
    x, y = px(last["bytes"] / 2**20, last["sluice"]["wall_median"])
    g.text(x - 6, y + 16, "sluice", 10, anchor="end", color=COLORS["sluice"])


def svg(out):
    W, rowh, top = 1280, 300, 70
    wls = list(out["workloads"].items())
    H = top + rowh * max(len(wls), 1) + 40
    g = Svg()
    g.add(f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
          f'font-family="DejaVu Sans, Helvetica, Arial, sans-serif">')
    g.rect(0, 0, W, H, "#ffffff")
    m = out["machine"]
    g.text(20, 28, f"sluice bench: {out['date']}, commit {out['commit']}", 16, weight="bold")
    g.text(20, 48, f"{m['cpu']}, {m['cores']} cores, {m['memory_bytes'] / 2**30:.0f} GiB, Linux {m['kernel']}, "
           f"{m['filesystem']}; page cache {out['page_cache']}; medians of {out['args']['runs']} run(s). "
           f"Grey: the limit; blue: sluice; orange: peers; red: a peer whose output leaks identifiers.", 11,
           color="#444")
    for i, (name, wl) in enumerate(wls):
        y = top + i * rowh
        g.line(20, y, W - 20, y, "#cccccc")
        g.text(20, y + 22, f"{name}: {wl['files']} files, {wl['bytes'] / 2**20:.0f} MiB ({wl['kind']})",
               13, weight="bold")
        if "ratios" not in wl:
            continue
        panel_bars(g, 20, y + 50, 560, rowh - 60, wl)
        panel_threads(g, 650, y + 60, 260, rowh - 120, wl)
        panel_scale(g, 990, y + 60, 260, rowh - 120, wl)
    for j, p in enumerate(out.get("problems", [])[:3]):
        g.text(20, H - 30 + j * 14, "PROBLEM: " + p[:180], 11, color=COLORS["leak"])
    g.add("</svg>")
    return "\n".join(g.parts) + "\n"


def main(argv):
    if len(argv) < 2:
        raise SystemExit(__doc__)
    for path in argv[1:]:
        out = json.load(open(path))
        print(table(out))
        svgpath = path[:-5] + ".svg" if path.endswith(".json") else path + ".svg"
        with open(svgpath, "w") as f:
            f.write(svg(out))
        print(f"chart: {svgpath}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv)
