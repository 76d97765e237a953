"""MCP tool loading against real MCP servers (stdio subprocesses, Streamable HTTP over uvicorn)
and real misbehaving peers (a crashing or hanging server, a socket that never answers)."""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from core.errors import (
    UpstreamBadResponseError,
    UpstreamError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from gateway.cli import main
from tools_kb.mcp_source import command_label, redact_url, tools_from_mcp, url_label

FAKES = Path(__file__).parent / "fakes"
SERVER = FAKES / "mcp_tool_server.py"
MISBEHAVING = FAKES / "mcp_misbehaving_server.py"
REPO = Path(__file__).parents[2]


def _misbehaving(mode: str, *extra: str) -> list[str]:
    return [sys.executable, str(MISBEHAVING), mode, *extra]


def _free_port() -> int:
    with socket.socket() as s:  # nothing listens there once closed
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _alive(pid: int) -> bool:
    """Whether the process runs (a zombie waiting for its parent to reap it does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _read_pid(pidfile: Path, waiting_for: subprocess.Popen[str] | None = None) -> int:
    """The pid a server wrote; waits for the file while ``waiting_for`` runs."""
    deadline = time.monotonic() + 120
    while not (pidfile.exists() and pidfile.read_text()):
        assert waiting_for is not None and waiting_for.poll() is None, "the server did not start"
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.1)
    return int(pidfile.read_text())


@contextlib.contextmanager
def _killed_afterwards(pidfile: Path) -> Iterator[None]:
    """Kill the server named in ``pidfile`` if the test left it running (it should not)."""
    try:
        yield
    finally:
        if pidfile.exists() and pidfile.read_text() and _alive(pid := int(pidfile.read_text())):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def http_server() -> Iterator[int]:
    """The misbehaving server in its well-behaved mode over Streamable HTTP; its port."""
    port = _free_port()
    proc = subprocess.Popen([*_misbehaving("ok", "--http", str(port))], stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, "the HTTP MCP server exited"
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert time.monotonic() < deadline, "the HTTP MCP server did not start"
            time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@contextlib.contextmanager
def _not_found_server() -> Iterator[str]:
    """A real HTTP server that answers 404 to everything."""

    class NotFound(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.send_error(404)

        do_GET = do_DELETE = do_POST

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotFound)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/mcp"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def _silent_endpoint() -> Iterator[str]:
    """A socket that accepts connections (the kernel does) and never answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        yield f"http://127.0.0.1:{s.getsockname()[1]}/mcp"


@pytest.mark.slow
async def test_tools_are_listed_from_a_real_stdio_mcp_server() -> None:
    tools = await tools_from_mcp([sys.executable, str(SERVER)], label="test", tenants=["acme"])
    by_name = {t.name: t for t in tools}
    assert set(by_name) == {"get_weather", "convert_currency", "search_flights"}
    weather = by_name["get_weather"]
    assert weather.description.startswith("Current weather")
    assert weather.parameters is not None and weather.parameters["required"] == ["city"]
    assert weather.tags == ("mcp:test",)
    assert weather.tenants == frozenset({"acme"})


async def test_unreachable_server_is_an_upstream_error() -> None:
    with pytest.raises(UpstreamUnavailableError):
        await tools_from_mcp([sys.executable, "-c", "raise SystemExit(3)"], label="dead")


@contextlib.contextmanager
def _unused_url() -> Iterator[str]:
    yield f"http://127.0.0.1:{_free_port()}/mcp"


@contextlib.contextmanager
def _exiting_command() -> Iterator[list[str]]:
    yield [sys.executable, "-c", "raise SystemExit(3)"]


@contextlib.contextmanager
def _missing_executable() -> Iterator[list[str]]:
    yield ["/nonexistent/mcp-server"]


@contextlib.contextmanager
def _not_a_url() -> Iterator[str]:
    yield "notaurl"


@pytest.mark.parametrize(
    ("server", "says"),
    [
        (_exiting_command, ": connection closed (the server process exited or closed its output)"),
        (
            _missing_executable,
            "MCP server 'mcp-server': cannot start '/nonexistent/mcp-server': No such file",
        ),
        (_unused_url, "ConnectError: All connection attempts failed"),
        (_not_found_server, ": Not Found"),
        (_not_a_url, "MCP server 'notaurl': UnsupportedProtocol: Request URL is missing"),
    ],
    ids=["stdio-server-exits", "no-such-executable", "nothing-listening", "http-404", "not-a-url"],
)
async def test_a_failure_names_the_server_and_the_real_cause(
    server: Callable[[], contextlib.AbstractContextManager[str | list[str]]], says: str
) -> None:
    with server() as target, pytest.raises(UpstreamUnavailableError) as info:
        await tools_from_mcp(target)
    message = info.value.message
    assert message.startswith("MCP server '") and says in message
    assert "ExceptionGroup" not in message and "TaskGroup" not in message


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["hang", "hanglist"], ids=["hangs-at-start", "hangs-on-tools-list"])
async def test_a_hanging_stdio_server_times_out_and_is_stopped(tmp_path: Path, mode: str) -> None:
    pidfile = tmp_path / "server.pid"
    with _killed_afterwards(pidfile):
        with pytest.raises(UpstreamTimeoutError) as info:
            await tools_from_mcp(_misbehaving(mode, "--pidfile", str(pidfile)), timeout_s=1)
        assert info.value.message == (
            "MCP server 'mcp_misbehaving_server.py': no complete tool list within 1 s (timeout; "
            "--mcp-timeout S waits longer)"
        )
        assert not _alive(_read_pid(pidfile))


async def test_an_http_endpoint_that_never_answers_times_out() -> None:
    with _silent_endpoint() as url, pytest.raises(UpstreamTimeoutError) as info:
        await tools_from_mcp(url, timeout_s=1)
    assert info.value.message == (
        f"MCP server {url!r}: no complete tool list within 1 s (timeout; --mcp-timeout S waits longer)"
    )


@pytest.mark.parametrize(
    ("mode", "limits", "says"),
    [
        ("loopcursor", {}, "tools/list page 2 repeats an earlier cursor ('again'); stopped"),
        ("endless", {"max_pages": 5}, "tools/list has more than 5 pages; stopped"),
        ("endless", {"max_tools": 7}, "tools/list gave more than 7 tools; stopped after page 4"),
    ],
    ids=["same-cursor-again", "page-cap", "tool-cap"],
)
async def test_a_listing_that_does_not_end_is_stopped(mode: str, limits: dict[str, int], says: str) -> None:
    with pytest.raises(UpstreamBadResponseError) as info:
        await tools_from_mcp(_misbehaving(mode), **limits)
    assert info.value.message == f"MCP server 'mcp_misbehaving_server.py': {says}"


async def test_every_page_is_read_and_tagged_with_the_script_name() -> None:
    tools = await tools_from_mcp(_misbehaving("ok"))
    assert [(t.name, t.tags) for t in tools] == [
        ("first_tool", ("mcp:mcp_misbehaving_server.py",)),
        ("second_tool", ("mcp:mcp_misbehaving_server.py",)),
    ]


@pytest.mark.slow
async def test_credentials_in_the_url_reach_neither_tags_nor_tools(http_server: int) -> None:
    url = f"http://mcpuser:s3cret-pw@127.0.0.1:{http_server}/mcp?api_key=k3y-value#frag"
    tools = await tools_from_mcp(url)
    assert {t.tags for t in tools} == {(f"mcp:http://127.0.0.1:{http_server}/mcp",)}
    stored = json.dumps([t.to_json() for t in tools])
    assert "s3cret-pw" not in stored and "k3y-value" not in stored and "mcpuser" not in stored


async def test_credentials_in_the_url_are_masked_in_errors() -> None:
    port = _free_port()
    with pytest.raises(UpstreamError) as info:
        await tools_from_mcp(f"http://mcpuser:s3cret-pw@127.0.0.1:{port}/mcp?api_key=k3y-value")
    message = info.value.message
    assert message.startswith(f"MCP server 'http://***@127.0.0.1:{port}/mcp?***': ")
    assert "s3cret-pw" not in message and "k3y-value" not in message and "mcpuser" not in message


@pytest.mark.parametrize(
    ("url", "label", "redacted"),
    [
        ("http://u:pw@host:8080/mcp?key=1#x", "http://host:8080/mcp", "http://***@host:8080/mcp?***"),
        ("https://host/mcp", "https://host/mcp", "https://host/mcp"),
        ("http://token@[::1]:9/a/b", "http://[::1]:9/a/b", "http://***@[::1]:9/a/b"),
        ("http://host?api_key=1", "http://host", "http://host?***"),
        ("notaurl", "notaurl", "notaurl"),
        (
            "https://mcp.example.com/api/mcp/s/ZXhhbXBsZS1zZWNyZXQtdG9rZW4/mcp",
            "https://mcp.example.com/api/mcp/s/***/mcp",
            "https://mcp.example.com/api/mcp/s/***/mcp",
        ),
    ],
    ids=[
        "user-password-query-fragment",
        "plain",
        "ipv6-token",
        "query-no-path",
        "not-a-url",
        "token-in-path",
    ],
)
def test_url_label_and_redaction(url: str, label: str, redacted: str) -> None:
    assert url_label(url) == label
    assert redact_url(url) == redacted


@pytest.mark.parametrize(
    ("argv", "label"),
    [
        (["python3", "/srv/my tools/server.py", "--token", "abc"], "server.py"),
        (["/usr/bin/python3.11", "-X", "utf8", "srv.py"], "srv.py"),
        (["python", "-m", "acme.mcp_server", "--key", "k"], "acme.mcp_server"),
        (["npx", "-y", "@modelcontextprotocol/server-github"], "server-github"),
        (["uv", "run", "--with", "mcp", "server.py"], "server.py"),
        (["/opt/bin/weather-mcp", "--api-key", "secret"], "weather-mcp"),
        (["uvx", "mcp-server-fetch"], "uvx"),
        (["uvx", "aws-mcp", "--secret-key", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"], "uvx"),
        (["sh", "-c", "cd /srv && GITHUB_TOKEN=ghp_SECRET123 python server.py"], "sh"),
        (["node", "--key-file", "/x/y/secret.js", "server.js"], "server.js"),
        (["npx", "-y", "mcp-remote", "https://user:s3cretPassw0rd@mcp.example.com"], "npx"),
        (["npx", "-y", "mcp-remote", "https://mcp.example.com/sse/sk_live_51HxYzAbCdEfGhIjKlMn"], "npx"),
        (["uvx", "mcp-server-postgres", "postgresql://admin:hunter2pw@db.internal:5432"], "uvx"),
    ],
    ids=[
        "script",
        "interpreter-options",
        "module",
        "npx-package",
        "uv-run",
        "executable",
        "runner-only",
        "option-value-is-never-the-name",
        "shell-command-string",
        "script-after-an-option-value",
        "remote-url-with-password",
        "remote-url-with-path-token",
        "database-url",
    ],
)
def test_command_label_is_the_script_or_executable_name(argv: list[str], label: str) -> None:
    assert command_label(argv) == label


# --- the `switchboard tools add` options ------------------------------------------------------


def _stored(db: str, capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    capsys.readouterr()
    assert main(["tools", "list", "--json", "--db", db]) == 0
    tools: list[dict[str, object]] = json.loads(capsys.readouterr().out)["tools"]
    return tools


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--mcp", ""], "argument --mcp: must name the server's command"),
        (["--mcp", "   "], "argument --mcp: must name the server's command"),
        (["--mcp", 'python "server.py'], "argument --mcp: not a valid command line: No closing quotation"),
        (["--mcp-url", ""], "argument --mcp-url: must not be empty or blank"),
        (["--mcp", "x", "--mcp-label", " "], "argument --mcp-label: must not be empty or blank"),
        (["--mcp", "x", "--mcp-timeout", "0"], "argument --mcp-timeout: must be above 0 and finite, got '0'"),
        (
            ["--mcp", "x", "--mcp-timeout", "nan"],
            "argument --mcp-timeout: must be above 0 and finite, got 'nan'",
        ),
        (["--mcp", "x", "--mcp-env", "=v"], "argument --mcp-env: must be NAME or NAME=VALUE"),
        (
            ["--mcp", "x", "--mcp-env", "SB_MCP_TEST_SURELY_UNSET"],
            "argument --mcp-env: SB_MCP_TEST_SURELY_UNSET is not set in this environment",
        ),
    ],
    ids=[
        "empty-command",
        "blank-command",
        "unclosed-quote",
        "empty-url",
        "blank-label",
        "zero-timeout",
        "nan-timeout",
        "env-without-name",
        "env-unset",
    ],
)
def test_bad_mcp_options_are_usage_errors(
    capsys: pytest.CaptureFixture[str], argv: list[str], says: str
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["tools", "add", *argv])
    assert info.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == f"switchboard tools add: error: {says}"


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--mcp-label", "docs"], "--mcp-label and --mcp-timeout need an --mcp or --mcp-url"),
        (["--mcp-url", "http://127.0.0.1:1/mcp", "--mcp-env", "A=1"], "--mcp-env needs an --mcp"),
    ],
    ids=["label-without-server", "env-without-stdio-server"],
)
def test_mcp_options_without_their_server_are_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], says: str
) -> None:
    assert main(["tools", "add", *argv, "--db", str(tmp_path / "c.sqlite")]) == 2
    assert says in capsys.readouterr().err


def test_a_quoted_server_path_with_spaces_is_one_argument(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = tmp_path / "my dir" / "server.py"
    script.parent.mkdir()
    shutil.copy(MISBEHAVING, script)
    db = str(tmp_path / "c.sqlite")
    command = f'{shlex.quote(sys.executable)} "{script}" ok'
    assert main(["tools", "add", "--mcp", command, "--db", db]) == 0
    assert [t["tags"] for t in _stored(db, capsys)] == [["mcp:server.py"], ["mcp:server.py"]]


def test_mcp_label_names_the_tag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "c.sqlite")
    command = shlex.join(_misbehaving("ok"))
    assert main(["tools", "add", "--mcp", command, "--mcp-label", "paged", "--db", db]) == 0
    assert [t["tags"] for t in _stored(db, capsys)] == [["mcp:paged"], ["mcp:paged"]]


@pytest.mark.parametrize(
    ("options", "shown"),
    [
        ([], "token=None other=None"),
        (["--mcp-env", "SB_MCP_TEST_TOKEN"], "token='tok-from-env' other=None"),
        (
            ["--mcp-env", "SB_MCP_TEST_TOKEN", "--mcp-env", "SB_MCP_TEST_OTHER=given=here"],
            "token='tok-from-env' other='given=here'",
        ),
    ],
    ids=["not-passed-by-default", "by-name", "by-name-and-value"],
)
def test_mcp_env_passes_chosen_variables_to_the_server(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    options: list[str],
    shown: str,
) -> None:
    monkeypatch.setenv("SB_MCP_TEST_TOKEN", "tok-from-env")
    monkeypatch.setenv("SB_MCP_TEST_OTHER", "not-passed")
    db = str(tmp_path / "c.sqlite")
    assert main(["tools", "add", "--mcp", shlex.join(_misbehaving("env")), *options, "--db", db]) == 0
    assert [t["description"] for t in _stored(db, capsys)] == [shown]


@pytest.mark.slow
def test_mcp_timeout_stops_a_hanging_server(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pidfile = tmp_path / "server.pid"
    command = shlex.join(_misbehaving("hang", "--pidfile", str(pidfile)))
    db = tmp_path / "c.sqlite"
    with _killed_afterwards(pidfile):
        assert main(["tools", "add", "--mcp", command, "--mcp-timeout", "1", "--db", str(db)]) == 1
        assert capsys.readouterr().err == (
            "MCP server 'mcp_misbehaving_server.py': no complete tool list within 1 s (timeout; "
            "--mcp-timeout S waits longer)\n"
        )
        assert not _alive(_read_pid(pidfile))
    assert not db.exists()


@pytest.mark.slow
def _signalled_cli_add(
    tmp_path: Path, sig: signal.Signals, *options: str, ignore_hangup: bool = False
) -> tuple[subprocess.Popen[str], str, bool]:
    """``switchboard tools add --mcp <hanging server> OPTIONS`` in a child process, sent ``sig``
    once the server runs: (the finished process, its stderr, whether the server outlived it)."""
    pidfile = tmp_path / "server.pid"
    command = shlex.join(_misbehaving("hang", "--pidfile", str(pidfile)))
    cli = subprocess.Popen(
        [sys.executable, "-c", "from gateway.cli import main; raise SystemExit(main())"]
        + ["tools", "add", "--mcp", command, *options, "--db", str(tmp_path / "c.sqlite")],
        cwd=REPO,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=(lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN)) if ignore_hangup else None,
    )
    with _killed_afterwards(pidfile):
        try:
            server_pid = _read_pid(pidfile, waiting_for=cli)
            cli.send_signal(sig)
            _, err = cli.communicate(timeout=120)
        finally:
            if cli.poll() is None:
                cli.kill()
                cli.wait()
        left_running = _alive(server_pid)  # before _killed_afterwards cleans up
    return cli, err, left_running


def test_sigterm_to_the_cli_stops_the_stdio_server(tmp_path: Path) -> None:
    cli, err, left_running = _signalled_cli_add(tmp_path, signal.SIGTERM)
    assert cli.returncode == 128 + signal.SIGTERM
    assert err.splitlines()[-1] == "stopped by SIGTERM; nothing was stored"
    assert not left_running


def test_a_hangup_ignored_on_purpose_stays_ignored(tmp_path: Path) -> None:
    """Under ``nohup`` (SIGHUP ignored) a hangup does not stop ``tools add``: it runs on until
    its own timeout."""
    cli, err, left_running = _signalled_cli_add(
        tmp_path, signal.SIGHUP, "--mcp-timeout", "3", ignore_hangup=True
    )
    assert cli.returncode == 1, err
    assert "no complete tool list within 3 s (timeout" in err.splitlines()[-1]
    assert not left_running
