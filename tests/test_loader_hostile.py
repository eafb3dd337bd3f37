"""Bad and hostile cycle configs: each one is a single-line ConfigError — never a traceback, MemoryError,
RecursionError or hang.

Two kinds of case:

* the corpus, ``tests/corpus/configs/*.yaml``: small files, each a one-change copy of
  ``included/base-cycle.yaml`` whose first line ``# expect: …`` is a fragment of the message it must give (the
  second line says what the case is). ``included/`` holds the departments, calendar and notice files they name.
* files too big or too hostile to commit (alias bombs, 5,000-deep nesting, a FIFO, /dev/zero, undecodable bytes
  and file names), written into ``tmp_path`` at run time. Anything that could exhaust memory or block runs in a
  subprocess with a 2 GiB address-space limit and a timeout, so a regression fails the test instead of taking
  the machine down.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import resource
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from stages.ground.errors import ConfigError
from stages.definition.loader import load_cycle
from stages.definition.yamlio import MAX_BYTES, MAX_NODES
from stages.ground.i18n import using

from .conftest import FIXTURES, MINI, ROOT, skipif, write_cycle


CORPUS = Path(__file__).resolve().parent / "corpus" / "configs"
INCLUDED = CORPUS / "included"
CASES = sorted(CORPUS.glob("*.yaml"))
BASE = MINI.read_text(encoding="utf-8")
MEMORY_LIMIT = 2 * 1024**3


def _expectation(path: Path) -> str:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# expect: "), f"{path.name}: the first line must be '# expect: <message fragment>'"
    return first.removeprefix("# expect: ")


def _assert_one_clear_line(message: str, fragment: str | None = None) -> None:
    assert "\n" not in message and "\r" not in message, message
    assert re.match(r"^\S+?\.yaml(:\d+)?: ", message) or re.match(r"^\S+: ", message), message
    assert len(message) < 700, f"{len(message)} characters: {message[:200]}…"
    if fragment is not None:
        assert fragment in message, message


# -- the corpus --------------------------------------------------------------------------------------------------------
def test_the_corpus_is_big_enough_and_its_base_is_valid(tmp_path):
    assert len(CASES) >= 40
    spec = load_cycle(INCLUDED / "base-cycle.yaml")
    assert spec.id == "corpus"
    # the corpus's notice settings are valid too, so each bad one fails for its own reason
    for name in ("base-cycle.yaml", "departments.yaml", "notices.yaml"):
        shutil.copy(INCLUDED / name, tmp_path / name)
    cycle = tmp_path / "base-cycle.yaml"
    assert load_cycle(cycle).file.notices == "notices.yaml"


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_corpus_case_is_one_clear_line(path):
    fragment = _expectation(path)
    with pytest.raises(ConfigError) as err:
        load_cycle(path)
    _assert_one_clear_line(str(err.value), fragment)


# -- generated: run isolated -----------------------------------------------------------------------------------------
_PROBE = textwrap.dedent("""
    import sys
    from stages.ground.errors import ConfigError
    from stages.definition.loader import load_cycle
    try:
        load_cycle(sys.argv[1])
    except ConfigError as exc:
        print("ConfigError\\t" + str(exc))
    else:
        print("loaded")
""")


def _limit_memory():  # runs in the child before exec
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def isolated_error(path, timeout: float = 60) -> str:
    """load_cycle(path) in a subprocess with 2 GiB of address space and a timeout: the ConfigError's text."""
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", _PROBE, os.fsdecode(path)], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, preexec_fn=_limit_memory)
    assert proc.returncode == 0, proc.stderr[-3000:]
    kind, _, message = proc.stdout.strip().partition("\t")
    assert kind == "ConfigError", proc.stdout[-2000:]
    assert time.monotonic() - started < timeout
    return message


_cycle = write_cycle  # the test cycle's text, beside its included files


def _laughs(levels: int, width: int = 9, word: str = "lol") -> str:
    """The billion-laughs block: level i is a list of ``width`` aliases of level i-1."""
    rows = [f"  l0: &l0 [{', '.join([word] * width)}]"]
    for i in range(1, levels + 1):
        rows.append(f"  l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * width)}]")
    return "note:\n" + "\n".join(rows) + "\n"


@pytest.mark.parametrize("levels,width,word", [(9, 9, "lol"), (8, 10, "x" * 200)], ids=["9x9-laughs", "8-levels-9.8GB"])
def test_alias_bomb_is_refused_before_it_expands(tmp_path, levels, width, word):
    path = _cycle(tmp_path, _laughs(levels, width, word) + BASE)
    message = isolated_error(path, timeout=30)
    _assert_one_clear_line(message, f"值过多：展开别名 *l3 后超过 {MAX_NODES:,} 个（应为不超过 {MAX_NODES:,} 个值，别名按其展开后的数量计）")


def test_alias_bomb_of_mappings_is_refused(tmp_path):
    rows = ["  m0: &m0 {a: lol, b: lol, c: lol, d: lol, e: lol, f: lol, g: lol, h: lol, i: lol}"]
    for i in range(1, 10):
        rows.append(f"  m{i}: &m{i} {{" + ", ".join(f"k{j}: *m{i - 1}" for j in range(9)) + "}")
    path = _cycle(tmp_path, "note:\n" + "\n".join(rows) + "\n" + BASE)
    _assert_one_clear_line(isolated_error(path, timeout=30), "展开别名 *m")


def test_alias_bomb_in_the_departments_file_names_that_file(tmp_path):
    path = _cycle(tmp_path, BASE)
    (tmp_path / "mini-departments.yaml").write_text(_laughs(9) + "departments: []\n", encoding="utf-8")
    message = isolated_error(path, timeout=30)
    _assert_one_clear_line(message, "值过多：")
    assert message.startswith(str(tmp_path / "mini-departments.yaml") + ":")


def test_small_aliases_are_allowed(tmp_path):
    text = BASE.replace("cooperating: [区商务委]}", "cooperating: &coop [区商务委]}").replace(
        "{no: 3, title: 课题三, focus: 重点三, lead: [区教育局], open_call: false}",
        "{no: 3, title: 课题三, focus: 重点三, lead: [区教育局], cooperating: *coop, open_call: false}")
    spec = load_cycle(_cycle(tmp_path, text))
    assert spec.item("topic-03").cooperating == spec.item("topic-01").cooperating == ("区商务委",)


@pytest.mark.parametrize("shape", ["flow-list-5000", "flow-map-5000", "block-1000", "block-list-1000"])
def test_deep_nesting_is_refused_without_recursion_error(tmp_path, shape):
    if shape == "flow-list-5000":
        note = "note: " + "[" * 5000 + "x" + "]" * 5000 + "\n"
    elif shape == "flow-map-5000":
        note = "note: " + "{a: " * 5000 + "x" + "}" * 5000 + "\n"
    elif shape == "block-1000":
        note = "note:\n" + "".join(" " * i + "a:\n" for i in range(1, 1000)) + " " * 1000 + "x\n"
    else:
        note = "note:\n" + "".join(" " * i + "-\n" for i in range(1, 1000)) + " " * 1000 + "x\n"
    message = isolated_error(_cycle(tmp_path, BASE + note), timeout=30)
    _assert_one_clear_line(message, "嵌套超过 64 层（应为嵌套不超过 64 层）")


def test_too_many_values_without_aliases(tmp_path):
    path = _cycle(tmp_path, BASE + "note: [" + ", ".join(["0"] * (MAX_NODES + 10)) + "]\n")
    started = time.monotonic()
    with pytest.raises(ConfigError) as err:
        load_cycle(path)
    _assert_one_clear_line(str(err.value), f"值过多：列表、映射和值超过 {MAX_NODES:,} 个")
    assert time.monotonic() - started < 20


def test_a_file_over_the_size_limit_is_not_parsed(tmp_path):
    path = _cycle(tmp_path, BASE + "# " + "x" * MAX_BYTES + "\n")
    with pytest.raises(ConfigError) as err:
        load_cycle(path)
    _assert_one_clear_line(str(err.value), f"文件过大（{path.stat().st_size:,} 字节）（应为不超过 {MAX_BYTES:,} 字节）")


def test_a_30kb_phrase_of_spaces_is_refused_at_once(tmp_path):
    # the phrase patterns took 12 s on this; the length limit answers before they run
    path = _cycle(tmp_path, BASE.replace("due: 8月底前}", 'due: "a' + " " * 30000 + 'b"}'))
    started = time.monotonic()
    with pytest.raises(ConfigError) as err:
        load_cycle(path)
    _assert_one_clear_line(str(err.value), "due: 期限表述长达 30,002 个字符（应为不超过 100 个字符")
    assert time.monotonic() - started < 5


def test_a_5000_digit_number(tmp_path):
    path = _cycle(tmp_path, BASE.replace("version: 1\n", "version: " + "9" * 5000 + "\n"))
    with pytest.raises(ConfigError) as err:
        load_cycle(path)
    _assert_one_clear_line(str(err.value), "为整数：5,000 位的数字过大（应为整数）")


def test_a_5000_digit_offset(tmp_path):
    path = _cycle(tmp_path, BASE.replace("due: 中期 + 10 个工作日", "due: 中期 + " + "9" * 5000 + " 天"))
    with pytest.raises(ConfigError) as err:
        load_cycle(path)
    _assert_one_clear_line(str(err.value), "due: 期限表述长达 5,007 个字符（应为不超过 100 个字符")


@pytest.mark.parametrize("where", ["key", "department"])
def test_a_huge_value_is_not_echoed_whole(tmp_path, where):
    if where == "key":
        text = BASE.replace("district: 测试区\n", "district: 测试区\n? " + "k" * 20000 + "\n: x\n")  # explicit key: no 1,024 limit
        fragment = "未知的键“kkkk"
    else:
        text = BASE.replace("lead: [区教育局]", "lead: [" + "区" * 20000 + "]")
        fragment = "未知部门“区区区"
    with pytest.raises(ConfigError) as err:
        load_cycle(_cycle(tmp_path, text))
    _assert_one_clear_line(str(err.value), fragment)


# -- what is not a readable regular file -----------------------------------------------------------------------------
@skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_a_fifo_does_not_hang(tmp_path):
    fifo = tmp_path / "cycle.yaml"
    os.mkfifo(fifo)
    _assert_one_clear_line(isolated_error(fifo, timeout=30), ": 是命名管道（FIFO），不是 YAML 文件（应为普通文件）")


@skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_a_fifo_as_departments_file_names_the_cycle_line(tmp_path):
    path = _cycle(tmp_path, BASE)
    (tmp_path / "mini-departments.yaml").unlink()
    os.mkfifo(tmp_path / "mini-departments.yaml")
    line = BASE.splitlines().index("departments: mini-departments.yaml") + 1
    message = isolated_error(path, timeout=30)
    _assert_one_clear_line(message, "是命名管道（FIFO）")
    assert message.startswith(f"{path}:{line}: departments: {tmp_path / 'mini-departments.yaml'}："), message


@skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")
@pytest.mark.parametrize("how", ["direct", "symlink"])
def test_dev_zero_is_not_read(tmp_path, how):
    target = Path("/dev/zero")
    if how == "symlink":
        target = tmp_path / "cycle.yaml"
        target.symlink_to("/dev/zero")
    _assert_one_clear_line(isolated_error(target, timeout=30), ": 是字符设备，不是 YAML 文件（应为普通文件）")


def test_a_directory(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_cycle(tmp_path)
    _assert_one_clear_line(str(err.value), f"{tmp_path}: 是文件夹，不是 YAML 文件")


@pytest.mark.parametrize("name,fragment", [
    ("missing.yaml", "missing.yaml: 文件不存在"),
    ("not-a-folder.yaml/cycle.yaml", "cycle.yaml: 文件不存在（路径中的某个文件夹实为文件）"),
    ("nul\x00byte.yaml", "byte.yaml: 不是有效的文件名（含 NUL 字符）"),
    ("x" * 300 + ".yaml", ".yaml: 无法读取：文件名过长"),
])
def test_file_names_that_lead_nowhere(tmp_path, name, fragment):
    (tmp_path / "not-a-folder.yaml").write_text("id: x\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_cycle(str(tmp_path) + "/" + name)
    message = str(err.value)
    _assert_one_clear_line(message, fragment)
    assert "\x00" not in message


def test_a_symlink_loop(tmp_path):
    loop = tmp_path / "loop.yaml"
    loop.symlink_to(loop)
    with pytest.raises(ConfigError) as err:
        load_cycle(loop)
    _assert_one_clear_line(str(err.value), "loop.yaml: 无法读取：符号链接层级过多")
    with using("en"):
        assert str(err.value).endswith("loop.yaml: cannot be read: too many levels of symbolic links"), str(err.value)


def test_permission_denied_simulated(tmp_path, monkeypatch):
    """As root every file is readable, so the refusal of the operating system is simulated."""
    path = _cycle(tmp_path, BASE)
    real_open = os.open

    def refusing_open(name, flags, *args, **kwargs):
        if os.fsdecode(name) == str(path):
            raise PermissionError(errno.EACCES, "Permission denied", os.fsdecode(name))
        return real_open(name, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", refusing_open)
    with pytest.raises(ConfigError) as err:
        load_cycle(path)
    _assert_one_clear_line(str(err.value), f"{path}: 无法读取：没有读取权限")


@skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads files whatever their mode")
def test_permission_denied_for_real(tmp_path):
    path = _cycle(tmp_path, BASE)
    path.chmod(0)
    try:
        with pytest.raises(ConfigError) as err:
            load_cycle(path)
    finally:
        path.chmod(0o644)
    _assert_one_clear_line(str(err.value), ": 无法读取：没有读取权限")


# -- bytes that are not UTF-8 text -----------------------------------------------------------------------------------
def test_a_gbk_file_names_the_line_of_the_first_bad_byte(tmp_path):
    path = tmp_path / "cycle.yaml"
    path.write_bytes(BASE.encode("gb18030"))
    with pytest.raises(ConfigError) as err:
        load_cycle(path)
    message = str(err.value)
    first_bad = next(i for i, ln in enumerate(BASE.splitlines(), 1) if not ln.isascii())
    _assert_one_clear_line(message, f"{path}:{first_bad}: 不是 UTF-8 文本（第 ")
    assert message.endswith("（应为以 UTF-8 保存的文件，而非 GBK/GB18030）"), message


def test_a_utf16_file(tmp_path):
    path = tmp_path / "cycle.yaml"
    path.write_text(BASE, encoding="utf-16")
    with pytest.raises(ConfigError) as err:
        load_cycle(path)
    _assert_one_clear_line(str(err.value), ":1: 是 UTF-16 文本，不是 UTF-8（应为以 UTF-8 保存的文件）")


@pytest.mark.parametrize("char", ["\x00", "\x1b", "\x7f"])
def test_control_characters_in_the_text(tmp_path, char):
    path = _cycle(tmp_path, BASE.replace("title: 测试区规划", f"title: 测试{char}区规划"))
    with pytest.raises(ConfigError) as err:
        load_cycle(path)
    message = str(err.value)
    _assert_one_clear_line(message, f":4: YAML 格式错误：YAML 中不允许出现字符 U+{ord(char):04X}（应为可打印文本；控制字符请在引号内写成转义形式）")
    assert char not in message


def test_a_utf8_bom_is_fine(tmp_path):
    path = _cycle(tmp_path, BASE)
    path.write_bytes(b"\xef\xbb\xbf" + BASE.encode("utf-8"))
    assert load_cycle(path).id == "mini"


def test_a_non_utf8_file_name(tmp_path):
    folder = os.fsencode(tmp_path)
    bad = folder + b"/\xff\xfe-cycle.yaml"
    with pytest.raises(ConfigError) as err:
        load_cycle(bad)  # missing
    _assert_one_clear_line(str(err.value), "\\xff\\xfe-cycle.yaml: 文件不存在")
    with open(bad, "wb") as fh:
        fh.write(b"id: [broken\n")
    with pytest.raises(ConfigError) as err:
        load_cycle(bad)
    message = str(err.value)
    _assert_one_clear_line(message, "\\xff\\xfe-cycle.yaml:2: YAML 格式错误：")
    message.encode("utf-8")  # printable as it is: no lone surrogates
    with open(bad, "wb") as fh:
        fh.write(BASE.encode("utf-8"))
    shutil.copy(FIXTURES / "mini-departments.yaml", tmp_path / "mini-departments.yaml")
    shutil.copy(FIXTURES / "mini-notices.yaml", tmp_path / "mini-notices.yaml")
    assert load_cycle(bad).id == "mini"
    assert load_cycle(os.fsdecode(bad)).id == "mini"


def test_a_newline_in_the_file_name(tmp_path):
    path = tmp_path / "two\nlines.yaml"
    path.write_text("id: [broken\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_cycle(path)
    _assert_one_clear_line(str(err.value), "two\\nlines.yaml:2: YAML 格式错误：")


# -- included files --------------------------------------------------------------------------------------------------
def test_a_mistyped_include_names_the_cycle_line_and_the_path(tmp_path):
    for key in ("departments", "calendar", "notices"):
        text = BASE.replace("departments: mini-departments.yaml\n",
                            "departments: mini-departments.yaml\n" if key != "departments" else "departments: typo.yaml\n")
        if key == "notices":
            text = text.replace("notices: mini-notices.yaml\n", "notices: typo.yaml\n")
        elif key != "departments":
            text = text.replace("coordinator: 区发改委\n", f"{key}: typo.yaml\ncoordinator: 区发改委\n")
        path = _cycle(tmp_path, text)
        line = text.splitlines().index(f"{key}: typo.yaml") + 1
        with pytest.raises(ConfigError) as err:
            load_cycle(path)
        message = str(err.value)
        _assert_one_clear_line(message, f"{path}:{line}: {key}: ")
        assert message.endswith("（应为相对于周期文件所在文件夹的路径）") and "typo.yaml：" in message, message
        with using("en"):  # the reason is the file reader's sentence (stages.definition.yamlio)
            message = str(err.value)
        assert message.endswith("typo.yaml: no such file (expected a path relative to the cycle file's folder)"), message


def test_errors_inside_an_included_file_name_that_file_and_line(tmp_path):
    path = _cycle(tmp_path, BASE)
    deps = tmp_path / "mini-departments.yaml"
    deps.write_text(deps.read_text(encoding="utf-8").replace("{id: swj,", "{id: SWJ,"), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_cycle(path)
    _assert_one_clear_line(str(err.value), f"{deps}:3: departments[1].id: 文本应符合格式 '^[a-z][a-z0-9-]*$'（实际为 'SWJ'）")


def test_notices_symlink_loop_names_the_cycle_line(tmp_path):
    text = BASE.replace("notices: mini-notices.yaml\n", "notices: loop.yaml\n")
    path = _cycle(tmp_path, text)
    (tmp_path / "loop.yaml").symlink_to(tmp_path / "loop.yaml")
    line = text.splitlines().index("notices: loop.yaml") + 1
    with pytest.raises(ConfigError) as err:
        load_cycle(path)
    _assert_one_clear_line(str(err.value), f"{path}:{line}: notices: ")


NOTICE_FILES = sorted(INCLUDED.glob("notices*.yaml")) + [ROOT / "config" / "notices.yaml"]


@pytest.mark.parametrize("path", NOTICE_FILES, ids=lambda p: p.stem)
def test_the_loader_refuses_every_notice_file_load_config_refuses(tmp_path, path):
    """The loader checks notice settings itself (importing stages.paperwork.notices would double validate's time); it must
    refuse at least what stages.paperwork.notices.load_config refuses, and the shipped and corpus-base files pass both."""
    from stages.paperwork import notices

    try:
        notices.load_config(str(path))
        load_config_refuses = False
    except Exception:  # noqa: BLE001 - AttributeError on a list organ is one of the things it does
        load_config_refuses = True
    text = BASE.replace("notices: mini-notices.yaml\n", f"notices: {path}\n")
    if path == ROOT / "config" / "notices.yaml":  # the shipped settings are 长宁's: only a 长宁 cycle may use them
        text = text.replace("district: 测试区\n", "district: 长宁区\n")
    try:
        load_cycle(_cycle(tmp_path, text))
        loader_refuses = False
    except ConfigError as exc:
        _assert_one_clear_line(str(exc))
        loader_refuses = True
    assert loader_refuses or not load_config_refuses
    assert loader_refuses == (path.stem != "notices"), path


def test_the_default_notice_settings(tmp_path, monkeypatch):
    from stages.definition import loader
    from stages.paperwork import notices

    assert loader.NOTICES_DEFAULT == notices.CONFIG
    no_key = BASE.replace("notices: mini-notices.yaml\n", "")
    with pytest.raises(ConfigError) as err:  # another district's issuer with the default (长宁's) settings
        load_cycle(_cycle(tmp_path, no_key))
    _assert_one_clear_line(str(err.value), "notices: 默认公文设置（config/notices.yaml）属于上海市长宁区发展和改革委员会，"
                                           "不是测试区的机关（应为notices: 指向一个写明本机关（名称、发文机关代字、版头、"
                                           "办公室）、联系人和发文登记的文件，见 docs/cycle-schema.md“Notice settings”一节）")
    with using("en"):
        _assert_one_clear_line(str(err.value), "the default notice settings (config/notices.yaml) are "
                                               "上海市长宁区发展和改革委员会's, not an office of 测试区")
    # naming the default file by a path is the same file
    with pytest.raises(ConfigError) as err:
        load_cycle(_cycle(tmp_path, BASE.replace("notices: mini-notices.yaml\n",
                                                 f"notices: {ROOT / 'config' / 'notices.yaml'}\n")))
    _assert_one_clear_line(str(err.value), "notices: notices: 指向默认公文设置（config/notices.yaml），属于"
                                           "上海市长宁区发展和改革委员会，不是测试区的机关")
    monkeypatch.setattr(loader, "NOTICES_DEFAULT", tmp_path / "gone" / "notices.yaml")
    with pytest.raises(ConfigError) as err:
        load_cycle(_cycle(tmp_path, no_key))
    _assert_one_clear_line(str(err.value), "（文件未写 notices: 键，使用默认文件）（应为相对于周期文件所在文件夹的路径）")
    with using("en"):  # "no such file" is the file reader's sentence (stages.definition.yamlio)
        _assert_one_clear_line(str(err.value), "notices.yaml: no such file (the default, as the file has no notices: key)")


def test_checksum_is_of_contents_and_runs_made_before_still_match(tmp_path):
    """The checksum is of the cycle file's and the departments file's contents, whatever path reached them; runs
    in existing databases recorded the older digest (which hashed the departments path as written): the spec
    still says it made them."""
    path = _cycle(tmp_path, BASE)
    dpath = path.parent / "mini-departments.yaml"
    old = hashlib.sha256(path.read_bytes() + str(dpath).encode() + dpath.read_bytes()).hexdigest()
    spec = load_cycle(path)
    assert spec.checksum != old and spec.made(old) and spec.made(spec.checksum)
    elsewhere = tmp_path / "copy"
    elsewhere.mkdir()
    for f in (path, dpath, path.parent / "mini-notices.yaml"):
        (elsewhere / f.name).write_bytes(f.read_bytes())
    assert load_cycle(elsewhere / path.name).checksum == spec.checksum  # the same contents, another folder
    (elsewhere / dpath.name).write_bytes(dpath.read_bytes() + b"\n# a comment is a change\n")
    assert load_cycle(elsewhere / path.name).checksum != spec.checksum


def test_gate_loop_no_longer_reaches_init(tmp_path, session):
    """Before: validate passed and init_run died in stages.rules.gates with a RecursionError."""
    text = BASE.replace("all_of: [topics-closed, {milestone: \"wrap-up:report\"}]",
                        "all_of: [loop-b, {milestone: \"wrap-up:report\"}]")
    text = text.replace("gates:\n", "gates:\n  - {id: loop-b, name: 乙, any_of: [research-complete]}\n")
    with pytest.raises(ConfigError) as err:
        load_cycle(_cycle(tmp_path, text))
    _assert_one_clear_line(str(err.value), "gates[0].any_of[0]: 阶段门“loop-b”经由 research-complete → loop-b 引用了自身")


# -- the command line ------------------------------------------------------------------------------------------------
def _hostile_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    bomb = tmp_path / "bomb"
    bomb.mkdir()
    deep = tmp_path / "deep"
    deep.mkdir()
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    return {
        "alias-bomb": (_cycle(bomb, _laughs(9) + BASE), f"值过多：展开别名 *l3 后超过 {MAX_NODES:,} 个"),
        "deep-5000": (_cycle(deep, BASE + "note: " + "[" * 5000 + "]" * 5000 + "\n"), "嵌套超过 64 层"),
        "gate-loop": (CORPUS / "gate-loop-two.yaml", "阶段门“a-gate”经由 b-gate → a-gate 引用了自身"),
        "fifo": (fifo, "fifo.yaml：不是普通文件（周期定义应为 YAML 文件）"),
        "notices-organ-list": (CORPUS / "notices-organ-list.yaml", "organ: 应为映射，不是列表"),
    }


@skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_cli_validate_refuses_hostile_files_in_one_line(tmp_path):
    for case, (path, fragment) in _hostile_files(tmp_path).items():
        proc = subprocess.run([sys.executable, "-m", "app.cli", "validate", str(path)], cwd=ROOT, capture_output=True,
                              text=True, timeout=60, preexec_fn=_limit_memory)
        assert proc.returncode == 2, (case, proc.stderr[-2000:])
        assert proc.stdout == "", case
        assert "Traceback" not in proc.stderr, (case, proc.stderr[-2000:])
        lines = proc.stderr.splitlines()
        assert len(lines) == 1, (case, proc.stderr[-2000:])
        assert lines[0].startswith("plancycle：错误：") and fragment in lines[0], (case, lines[0])


def test_cli_ruamel_warnings_do_not_reach_stderr(tmp_path):
    """ruamel warns in a dozen lines about a re-defined anchor or a YAML 1.1 float without a dot."""
    reused = _cycle(tmp_path, BASE.replace("cooperating: [区商务委]}", "cooperating: [&u 区商务委]}").replace(
        "lead: [区教育局]", "lead: [&u 区教育局]"), name="reused-anchor.yaml")
    proc = subprocess.run([sys.executable, "-m", "app.cli", "validate", str(reused)], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    old = _cycle(tmp_path, "%YAML 1.1\n---\n" + BASE.replace("version: 1\n", "version: 1e3\n"), name="yaml11.yaml")
    proc = subprocess.run([sys.executable, "-m", "app.cli", "validate", str(old)], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2 and len(proc.stderr.splitlines()) == 1, proc.stderr
    assert proc.stderr.startswith(f"plancycle：错误：{old}:")


def test_cli_init_refuses_a_gate_loop(tmp_path):
    db = f"sqlite:///{tmp_path / 'p.db'}"
    proc = subprocess.run([sys.executable, "-m", "app.cli", "--db", db, "init", str(CORPUS / "gate-loop-three.yaml")],
                          cwd=ROOT, capture_output=True, text=True, timeout=60, preexec_fn=_limit_memory)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert len(proc.stderr.splitlines()) == 1 and "阶段门“a-gate”经由 b-gate → c-gate → a-gate 引用了自身" in proc.stderr
