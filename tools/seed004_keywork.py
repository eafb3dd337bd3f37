"""Writes config/cycles/changning-2019-keywork.yaml from seed 004: `python tools/seed004_keywork.py >
config/cycles/changning-2019-keywork.yaml`. The output was checked by hand against the seed (titles, quarterly
texts, 主责 and 配合 units, the figures read as targets); edit the YAML, not this, for corrections."""
import re, sys
sys.path.insert(0, str(__import__('pathlib').Path(__file__).parent))
from seed004_parse import recs, tok
import yaml as _y  # noqa

DROP = {"各部门", "各相关部门", "相关部门", "相关街镇", "各成员单位", "其他城区运行管理相关部门"}
MAP = {"各街(镇)": "各街镇", "区临空办": "临空办"}
QN = ["一", "二", "三", "四"]
TARGETS = [
    (r"(重点项目落地)(\d+)家", "家"),
    (r"(区级一般公共预算收入)完成年度目标的(\d+)%", "%"),
    (r"累计完成(全年目标)的(\d+)%", "%"),
    (r"完成(工作目标|目标)的?(\d+)%", "%"),
    (r"完成(装修工程)的(\d+)%", "%"),
    (r"完成(\d+)%的(工作项目)", "%!"),
    (r"(重点项目落地)(\d+)家", "家"),
    (r"(智慧微菜场建设)", None),
]

def units(lines):
    out = []
    for l in lines:
        u, rest = tok(l)
        assert not rest, (l, rest)
        out += [MAP.get(x, x) for x in u]
    return out

def q(s):
    s = s.replace("\xa0", "").strip()
    s = re.sub(r"\s+", "", s) if len(s) < 12 else s
    return '"' + s.replace('\\', '\\\\').replace('"', '\\"') + '"'

def targets(text):
    out = []
    for pat, unit in TARGETS:
        for m in re.finditer(pat, text):
            if unit is None:
                continue
            if unit == "%!":
                out.append({"value": int(m.group(1)), "unit": "%", "of": m.group(2)})
            else:
                out.append({"value": int(m.group(2)), "unit": unit, "of": m.group(1)})
    seen, uniq = set(), []
    for t in out:
        if (t["value"], t["unit"], t["of"]) not in seen:
            seen.add((t["value"], t["unit"], t["of"]))
            uniq.append(t)
    return uniq

items = []
project = None
for r in recs:
    lines = [l for l in r["lines"]]
    if r["no"] == 14:  # two rows under one number: 开工项目 and 竣工项目
        proj, ga, *qa = lines[:6]; la, ca = lines[6], lines[7]
        gb, *qb = lines[8:13]; lb, cb = lines[13], lines[14]
        project = proj
        goal = ga + "；" + gb
        quarters = [(a if a != "——" else "") + ("；" if a != "——" and b != "——" else "") + (b if b != "——" else "")
                    for a, b in zip(qa, qb)]
        lead = units([la]); coop = units([ca, cb])
    else:
        k = len(lines)
        while k > 0 and not tok(lines[k - 1])[1] and tok(lines[k - 1])[0]:
            k -= 1
        head, unit_lines = lines[:k], lines[k:]
        assert len(head) in (5, 6) and unit_lines, (r["no"], len(head), unit_lines)
        if len(head) == 6:
            project = re.sub(r"\s+", "", head[0]); head = head[1:]
        goal, quarters = head[0], head[1:]
        lead = units(unit_lines[:1]); coop = units(unit_lines[1:])
    dropped = [c for c in coop if c in DROP]
    coop = [c for c in dict.fromkeys(coop) if c not in DROP and c not in lead]
    lead = [l for l in dict.fromkeys(lead) if l not in DROP]
    m = None if r["no"] == 14 else re.match(r"^(?:\d\.)?([^:：,，。;；]{2,24})[:：]", goal)
    title = m.group(1) if m else project
    items.append(dict(no=r["no"], domain=r["domain"], project=project, title=title, goal=goal.strip(),
                      quarters=[x.strip() for x in quarters], lead=lead, coop=coop, dropped=dropped))

titles = {}
for it in items:
    titles.setdefault(it["title"], []).append(it)
for t, its in titles.items():
    if len(its) > 1:
        for it in its:
            it["title"] = f"{t}（第{it['no']}项）"

out = []
w = out.append
w("# 上海市长宁区人民政府2019年重点工作目标 — seed 004 (长府〔2019〕5号, 2019-02-03) written as data: all 59 targets")
w("# of 附件1 with their 领域, 目标任务和工作要求 (the task's text), 阶段性目标和工作任务量 per quarter (one milestone each,")
w("# due by the quarter's last day; “——” in the seed: no milestone that quarter), 主责部门 (the first owes for all) and")
w("# 配合部门, and the monthly report every 主责部门 makes by the 25th (于每月25日前将重点工作目标完成情况报送至")
w("# 区政府办公室督查科). Quarterly figures the seed states (25% / 50% / 75% of the year's revenue target, 78 / 156 /")
w("# 234 / 310 projects …) are milestone targets. Transcribed from the seed's text by a script and checked by hand;")
w("# 配合部门 the seed names only as 各部门 / 相关部门 / 各成员单位 are in the task's text, not units.")
w("id: changning-2019-keywork")
w("schema: 2")
w("version: 1")
w("title: 长宁区2019年区政府重点工作目标推进")
w("district: 长宁区")
w("issuer: 上海市长宁区人民政府办公室")
w("period: 2019年度")
w("source: 长府〔2019〕5号《上海市长宁区人民政府关于印发区政府2019年重点工作目标的通知》及附件1")
w("departments: ../changning-2019/departments.yaml")
w("calendar: ../calendar.yaml")
w("notices: ../changning-2019/notices.yaml")
w("coordinator: 区府办")
w("approval_bodies:")
w("  district_government: 区政府")
w("reminders:")
w("  yellow_within_workdays: 5")
w("  escalate_after_workdays: 5")
w("")
w("stages:")
w("  - id: y2019")
w("    name: 年度推进")
w("    window: 2019年")
w("    exit_gate: year-done")
w("")
w("gates:")
w("  - id: year-done")
w("    name: 全年重点工作目标完成且各主责部门12月完成情况报送")
w("    all_of:")
w("      - all: {track: tasks, milestone: q4}")
w("      - all: {track: tasks, milestone: m201912}")
w("    automatic: true")
w("")
w("# 于每月25日前将重点工作目标完成情况报送至区政府办公室督查科: one report a month from every 主责部门")
w("reporting:")
w("  every: month")
w("  day: 25")
w("  start: 2019-02")
w("  end: 2019-12")
w("  title: \"{unit}重点工作目标完成情况月报\"")
w("  name: \"{month}月完成情况\"")
w("  deliverables: [重点工作目标完成情况（进展、问题、下步）]")
w("  key_prefix: report-")
w("  to: 区政府办公室督查科")
w("")
w("tasks:")
dom = None
for it in items:
    if it["domain"] != dom:
        dom = it["domain"]
        w(f"  # —— {dom} ——")
    w(f"  - id: t{it['no']:02d}")
    w(f"    ref: 附件1 {it['no']}")
    w(f"    stage: y2019")
    w(f"    domain: {dom}")
    w(f"    title: {q(it['title'])}")
    text = f"{it['project']}。{it['goal']}" if it["project"] and it["project"] not in it["goal"] else it["goal"]
    if it["dropped"]:
        text += f"（配合部门：{'、'.join(it['dropped'])}）"
    w(f"    text: {q(text)}")
    w(f"    lead: [{', '.join(it['lead'])}]")
    if it["coop"]:
        w(f"    cooperating: [{', '.join(it['coop'])}]")
    w(f"    milestones:")
    first = True
    for i, txt in enumerate(it["quarters"]):
        if txt in ("——", ""):
            continue
        w(f"      - id: q{i+1}")
        w(f"        name: {QN[i]}季度目标")
        w(f"        due: 2019年{QN[i]}季度")
        if first:
            w(f"        after: []")
            first = False
        w(f"        deliverables: [{q(txt)}]")
        ts = targets(txt)
        if ts:
            w(f"        targets:")
            for t in ts:
                w(f"          - {{value: {t['value']}, unit: \"{t['unit']}\", of: {t['of']}}}")
w("")
w("timeline:")
doms = []
for it in items:
    if it["domain"] not in doms:
        doms.append(it["domain"])
for d in doms:
    keys = [f"t{it['no']:02d}" for it in items if it["domain"] == d]
    w(f"  - stage: y2019")
    w(f"    text: {d}（{len(keys)}项）")
    w(f"    covers: [{', '.join(keys)}]")
print("\n".join(out))
