"""``-f FILE`` and ``-f -``: comments, blank lines, duplicates and bad lines."""

from __future__ import annotations

from pathlib import Path

from cli_helpers import closed_port, run_probe, validate_document


def test_target_file_comments_blanks_duplicates_and_a_bad_line(
    strict_target: str, lab_ca_file: str, tmp_path: Path
) -> None:
    refused = f"127.0.0.1:{closed_port()}"
    hosts = tmp_path / "hosts.txt"
    hosts.write_text(
        "\n".join(
            [
                "# lab targets",  # 1
                "",  # 2
                f"  {strict_target}  ",  # 3: surrounding blanks
                f"{refused}   # refused on purpose",  # 4: trailing comment
                "   ",  # 5
                "a:b",  # 6: bad port
                strict_target,  # 7: duplicate of line 3
                f"tls://{refused}",  # 8: same check, host and port as line 4
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    run = run_probe("scan", "-f", str(hosts), "--ca-file", lab_ca_file, "--json", "-")
    assert run.returncode == 2, run.describe()  # a bad line makes it a usage error...
    assert "hosts.txt:6" in run.stderr and "'a:b'" in run.stderr
    assert "hosts.txt:7" not in run.stderr and "hosts.txt:8" not in run.stderr
    doc = run.json()  # ...but everything else was scanned and reported
    validate_document(doc)
    assert [t["target"] for t in doc["targets"]] == [strict_target, refused]
    assert doc["targets"][0]["passed"] is True
    assert doc["targets"][1]["error"]["reason"] == "refused"


def test_target_file_and_arguments_together(
    strict_target: str, lab_ca_file: str, tmp_path: Path
) -> None:
    hosts = tmp_path / "hosts.txt"
    hosts.write_text(f"{strict_target}\n", encoding="utf-8")
    run = run_probe(
        "scan", strict_target, "-f", str(hosts), "--ca-file", lab_ca_file, "--json", "-"
    )
    assert run.returncode == 0, run.describe()
    assert [t["target"] for t in run.json()["targets"]] == [strict_target]


def test_targets_from_stdin(strict_target: str, lab_ca_file: str) -> None:
    refused = f"127.0.0.1:{closed_port()}"
    stdin = f"# from a pipe\n{strict_target}\n\n{refused}\n{strict_target}\nnot a target\n"
    run = run_probe("scan", "-f", "-", "--ca-file", lab_ca_file, "--json", "-", stdin=stdin)
    assert run.returncode == 2, run.describe()
    assert "stdin:6" in run.stderr
    doc = run.json()
    validate_document(doc)
    assert [t["target"] for t in doc["targets"]] == [strict_target, refused]


def test_empty_target_file_exits_2(tmp_path: Path) -> None:
    hosts = tmp_path / "hosts.txt"
    hosts.write_text("# nothing here\n\n", encoding="utf-8")
    run = run_probe("scan", "-f", str(hosts))
    assert run.returncode == 2, run.describe()
    assert "no valid targets" in run.stderr


def test_bad_line_error_keeps_file_and_line_on_one_line(tmp_path: Path) -> None:
    """BUG: the ``FILE:LINE`` of a bad target line is split across lines when the path is long.

    probe/cli.py ``_stderr()`` builds ``rich.console.Console(stderr=True)`` with rich's default
    width, 80 columns whenever stderr is not a terminal (CI logs, ``2>file``), and
    ``scan_command`` prints the error with ``Console.print``, which word-wraps and folds long
    words. A path longer than the width is cut mid-name ("...subdirectory-\\nname/hosts.txt:3"),
    so the promised ``hosts.txt:14: 'a:b': ...`` line cannot be grepped or clicked. Errors
    meant for logs should not be wrapped (``soft_wrap=True`` or plain ``sys.stderr.write``).
    """
    deep = tmp_path / "a-rather-long-directory-name-for-target-lists" / "and-another-level-deep"
    deep.mkdir(parents=True)
    hosts = deep / "hosts.txt"
    hosts.write_text(f"127.0.0.1:{closed_port()}\n\na:b\n", encoding="utf-8")
    assert len(str(hosts)) > 80
    run = run_probe("scan", "-f", str(hosts), "--json", "-")
    assert run.returncode == 2, run.describe()
    assert f"{hosts}:3: 'a:b': port 'b' is not a number" in run.stderr, run.stderr


def test_cidr_block_expands_to_each_address(strict_target: str, lab_ca_file: str) -> None:
    port = strict_target.rsplit(":", 1)[1]
    block = f"127.0.0.0/30:{port}"  # hosts 127.0.0.1 (the strict server) and 127.0.0.2
    run = run_probe("scan", block, "--ca-file", lab_ca_file, "--timeout", "1", "--json", "-")
    doc = run.json()
    validate_document(doc)
    by_host = {t["host"]: t for t in doc["targets"]}
    assert set(by_host) == {"127.0.0.1", "127.0.0.2"}, run.describe()
    assert all(t["target"] == block for t in doc["targets"])
    assert by_host["127.0.0.1"]["status"] == "completed"
    assert by_host["127.0.0.1"]["server_name"] is None
    assert by_host["127.0.0.2"]["status"] == "error"  # s_server listens on 127.0.0.1 only
    assert run.returncode == 1, run.describe()


def test_cidr_block_over_the_cap_exits_2() -> None:
    run = run_probe("scan", "127.0.0.0/24:443", "--max-cidr", "16")
    assert run.returncode == 2, run.describe()
    assert "127.0.0.0/24" in run.stderr and "16" in run.stderr
