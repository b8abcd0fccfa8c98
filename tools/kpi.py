#!/usr/bin/env python3
"""Developer entry point for crm_strategic_kpi: demo server, test run, benchmark.

It finds Odoo 19.0 (importable in this Python, the checkout named by
``ODOO_PATH``, or the project's own set-up under ``.run``); when there is none
it sets one up: a shallow checkout of the 19.0 branch from ``ODOO_SOURCE``
(default: the official repository; a local path or URL works too) into
``.run/odoo`` and a virtual environment ``.run/venv`` with its requirements,
then carries on there. It uses the PostgreSQL server named by the PG*
settings when one is set, else starts a private cluster under ``.run/pg``,
and drives Odoo's own command line.
"""

import argparse
import contextlib
import getpass
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUN = ROOT / ".run"
PGDATA = RUN / "pg" / "data"
PGSOCK = RUN / "pg" / "socket"
PGLOG = RUN / "pg" / "postgres.log"
PGPORT_FILE = RUN / "pg" / "port"
PRIVATE_ROLE = "odoo"
UNPRIVILEGED_OS_USER = "nobody"
OUR_ADDONS = [
    "crm_strategic_kpi",
    "crm_strategic_kpi_survey",
    "crm_strategic_kpi_privacy",
    "crm_strategic_kpi_sale",
]
OPTIONAL_ADDONS = {"crm_strategic_kpi_helpdesk": "helpdesk_mgmt"}
DEMO_DB = "kpi_demo"
VENV = RUN / "venv"
ODOO_CHECKOUT = RUN / "odoo"
ODOO_SOURCE_DEFAULT = "https://github.com/odoo/odoo.git"
ODOO_BRANCH = "19.0"
# What building Odoo's requirements needs from the system: (probe, package)
SYSTEM_NEEDS = (
    ("git", "git"),
    ("pg_config", "libpq-dev"),
    ("/usr/include/ldap.h", "libldap2-dev"),
    ("/usr/include/sasl/sasl.h", "libsasl2-dev"),
)


class SetupError(Exception):
    """A missing prerequisite, reported to the user without a traceback."""


def say(msg):
    print(f"[kpi] {msg}", flush=True)


# ---------------------------------------------------------------- Odoo detection
PROBE = (
    "import odoo.release as r, sys; "
    "sys.exit(0 if tuple(r.version_info[:2]) == (19, 0) else 3)"
)


def _odoo_rc(python):
    """0 when ``python`` imports Odoo 19.0, 3 for another version, else 1."""
    return subprocess.call(
        [str(python), "-c", PROBE], cwd="/", stderr=subprocess.DEVNULL
    )


def odoo_command():
    """Return the argv prefix that runs Odoo 19.0's command line."""
    odoo_path = os.environ.get("ODOO_PATH")
    if odoo_path:
        bin_ = Path(odoo_path) / "odoo-bin"
        if not bin_.is_file():
            raise SetupError(
                f"ODOO_PATH={odoo_path} is not an Odoo source checkout "
                "(no odoo-bin there). Point ODOO_PATH at a checkout of the 19.0 "
                "branch of github.com/odoo/odoo, or unset it."
            )
        env = dict(os.environ, PYTHONPATH=odoo_path)
        rc = subprocess.call([sys.executable, "-c", PROBE], env=env, cwd="/")
        if rc != 0:
            raise SetupError(f"ODOO_PATH={odoo_path} does not hold Odoo 19.0.")
        return [sys.executable, str(bin_)]
    rc = _odoo_rc(sys.executable)
    if rc == 3:
        raise SetupError(
            f"The Odoo importable in {sys.executable} is not version 19.0. "
            "Use a Python without it, or set ODOO_PATH to a 19.0 checkout."
        )
    if rc != 0:
        raise SetupError(
            f"Odoo 19.0 is not importable in {sys.executable}: run the command "
            "again through tools/kpi.py (make demo, make test), which sets it up "
            "in .run/, or set ODOO_PATH."
        )
    return [sys.executable, "-m", "odoo"]


def missing_system_packages():
    missing = []
    for probe, package in SYSTEM_NEEDS:
        found = Path(probe).exists() if probe.startswith("/") else shutil.which(probe)
        if not found:
            missing.append(package)
    return missing


def _git_source(source):
    """A local folder as a file:// URL (so that --depth applies), else as is."""
    path = Path(source).expanduser()
    return path.resolve().as_uri() if path.exists() else source


def _clone_odoo(source):
    ODOO_CHECKOUT.parent.mkdir(parents=True, exist_ok=True)
    url = _git_source(source)
    say(f"fetching Odoo {ODOO_BRANCH} from {source} into {ODOO_CHECKOUT}")
    base = ["git", "clone", "--quiet", "--depth", "1"]
    done = subprocess.run(
        [*base, "--branch", ODOO_BRANCH, url, str(ODOO_CHECKOUT)],
        check=False,
        stderr=subprocess.PIPE,
        text=True,
    )
    if done.returncode != 0 and Path(source).expanduser().exists():
        # a local tree of 19.0 whose branch has another name
        shutil.rmtree(ODOO_CHECKOUT, ignore_errors=True)
        done = subprocess.run(
            [*base, url, str(ODOO_CHECKOUT)],
            check=False,
            stderr=subprocess.PIPE,
            text=True,
        )
    if done.returncode != 0:
        shutil.rmtree(ODOO_CHECKOUT, ignore_errors=True)
        raise SetupError(
            f"could not fetch Odoo from {source}: {done.stderr.strip()}. Set "
            "ODOO_SOURCE to a reachable repository or a local 19.0 checkout."
        )
    release = (ODOO_CHECKOUT / "odoo" / "release.py").read_text()
    if not re.search(r"version_info\s*=\s*\(\s*19\s*,\s*0\s*,", release):
        shutil.rmtree(ODOO_CHECKOUT, ignore_errors=True)
        raise SetupError(f"{source} does not hold Odoo 19.0.")


def setup_odoo():
    """Set up Odoo 19.0 under .run (checkout and virtual environment) and
    return the Python that runs it."""
    python = VENV / "bin" / "python"
    if python.exists() and _odoo_rc(python) == 0:
        return python
    missing = missing_system_packages()
    if missing:
        raise SetupError(
            f"Odoo 19.0 is not installed and setting it up needs "
            f"{', '.join(missing)}: apt-get install {' '.join(missing)}"
        )
    if not (ODOO_CHECKOUT / "odoo" / "release.py").exists():
        _clone_odoo(os.environ.get("ODOO_SOURCE") or ODOO_SOURCE_DEFAULT)
    say(f"creating the virtual environment {VENV} (Odoo's requirements)")
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    constraint = RUN / "pip-constraint.txt"
    constraint.write_text("setuptools<70\n")
    env = dict(os.environ, PIP_CONSTRAINT=str(constraint))
    pip = [
        str(python),
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
    ]
    subprocess.run(
        [*pip, "-r", str(ODOO_CHECKOUT / "requirements.txt")], check=True, env=env
    )
    subprocess.run(
        [
            *pip,
            "--config-settings",
            "editable_mode=compat",
            "-e",
            str(ODOO_CHECKOUT),
        ],
        check=True,
        env=env,
    )
    # after Odoo: the OCA addons among them require the odoo distribution
    subprocess.run([*pip, "-r", str(ROOT / "requirements.txt")], check=True, env=env)
    if _odoo_rc(python) != 0:
        raise SetupError(f"Odoo 19.0 was set up in {VENV} but does not import.")
    say(f"Odoo 19.0 is set up in {VENV}")
    return python


def run_in_odoo_python(argv):
    """Carry on in a Python that has Odoo 19.0: this one, ODOO_PATH's, or the
    project's set-up (made when missing)."""
    if os.environ.get("ODOO_PATH") or _odoo_rc(sys.executable) == 0:
        return
    if _odoo_rc(sys.executable) == 3:
        odoo_command()  # says that the installed Odoo is another version
    if os.environ.get("KPI_IN_VENV"):
        raise SetupError(f"{VENV} does not import Odoo 19.0; remove it and retry.")
    python = setup_odoo()
    os.environ["KPI_IN_VENV"] = "1"
    os.execv(str(python), [str(python), str(Path(__file__).resolve()), *argv])


# ---------------------------------------------------------------- PostgreSQL
def _pg_bin(name):
    found = shutil.which(name)
    if found:
        return found
    for candidate in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}")):
        return str(candidate)
    raise SetupError(
        f"PostgreSQL's {name} was not found. Install PostgreSQL >= 13 "
        "(Debian: apt-get install postgresql) or point PGHOST/PGPORT/PGUSER at a "
        "running server."
    )


def _server_answers(params):
    import psycopg2  # noqa: PLC0415  (Odoo's dependency, present once Odoo is)

    try:
        conn = psycopg2.connect(dbname="postgres", connect_timeout=3, **params)
    except psycopg2.Error:
        return False
    conn.close()
    return True


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_pg_owner(cmd):
    """Run a PostgreSQL server command as an unprivileged user when we are root."""
    if os.geteuid() == 0:
        return ["runuser", "-u", UNPRIVILEGED_OS_USER, "--", *cmd]
    return cmd


def _private_params():
    return {
        "host": "127.0.0.1",
        "port": int(PGPORT_FILE.read_text()),
        "user": PRIVATE_ROLE,
    }


def private_cluster_running():
    return (PGDATA / "postmaster.pid").exists() and PGPORT_FILE.exists()


def start_private_cluster():
    """Start (creating it on first use) the project's own cluster under .run/pg."""
    pg_ctl = _pg_bin("pg_ctl")
    if not (PGDATA / "PG_VERSION").exists():
        initdb = _pg_bin("initdb")
        PGDATA.mkdir(parents=True, exist_ok=True)
        PGSOCK.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            owner = pwd.getpwnam(UNPRIVILEGED_OS_USER)
            for path in (RUN, RUN / "pg", PGDATA, PGSOCK):
                os.chown(path, owner.pw_uid, owner.pw_gid)
        say(f"creating a private PostgreSQL cluster in {PGDATA}")
        subprocess.run(
            _as_pg_owner(
                [
                    initdb,
                    "-D",
                    str(PGDATA),
                    "-U",
                    PRIVATE_ROLE,
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--locale=C",
                ]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )
    if private_cluster_running():
        params = _private_params()
        if _server_answers(params):
            return params
        # A stale pid file after a crash: pg_ctl start handles it.
    port = _free_port()
    PGPORT_FILE.write_text(str(port))
    # fsync off: a throwaway development cluster. Buffers and WAL sized as a
    # modest production server would be (PostgreSQL's defaults, 128 MB and
    # 1 GB, checkpoint every few seconds while the benchmark writes its
    # millions of facts).
    opts = (
        f"-c listen_addresses=127.0.0.1 -c port={port} "
        f"-c unix_socket_directories={PGSOCK} -c fsync=off "
        "-c max_connections=100 -c shared_buffers=512MB -c max_wal_size=4GB"
    )
    if os.geteuid() == 0:
        owner = pwd.getpwnam(UNPRIVILEGED_OS_USER)
        PGLOG.touch()
        os.chown(PGLOG, owner.pw_uid, owner.pw_gid)
    subprocess.run(
        _as_pg_owner(
            [pg_ctl, "-D", str(PGDATA), "-l", str(PGLOG), "-o", opts, "-w", "start"]
        ),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    say(f"private PostgreSQL cluster listening on 127.0.0.1:{port}")
    return _private_params()


def stop_private_cluster():
    if not (PGDATA / "postmaster.pid").exists():
        return
    subprocess.run(
        _as_pg_owner([_pg_bin("pg_ctl"), "-D", str(PGDATA), "-m", "fast", "stop"]),
        check=False,
        stdout=subprocess.DEVNULL,
    )
    say("private PostgreSQL cluster stopped")


PG_SETTINGS = (
    ("PGHOST", "host"),
    ("PGPORT", "port"),
    ("PGUSER", "user"),
    ("PGPASSWORD", "password"),
)


def ensure_postgres():
    """Return (connection params, started_here): the server named by the PG*
    settings when any is set, else the project's private cluster."""
    params = {key: os.environ[var] for var, key in PG_SETTINGS if os.environ.get(var)}
    if params:
        if (params.get("user") or getpass.getuser()) == "postgres":
            raise SetupError(
                "Odoo refuses to connect as the PostgreSQL superuser 'postgres': "
                "set PGUSER to another role."
            )
        if not _server_answers(params):
            shown = ", ".join(f"{k}={v}" for k, v in params.items() if k != "password")
            raise SetupError(
                f"no PostgreSQL server answers with the PG* settings ({shown}); "
                "unset them to use the project's private cluster."
            )
        say("using the PostgreSQL server given by the PG* settings")
        return params, False
    if private_cluster_running():
        params = _private_params()
        if _server_answers(params):
            say(f"using the private PostgreSQL cluster in {PGDATA}")
            return params, False
    return start_private_cluster(), True


def db_args(params):
    args = []
    if params.get("host"):
        args += ["--db_host", str(params["host"])]
    if params.get("port"):
        args += ["--db_port", str(params["port"])]
    if params.get("user"):
        args += ["--db_user", str(params["user"])]
    if params.get("password"):
        args += ["--db_password", str(params["password"])]
    return args


def drop_database(params, name):
    import psycopg2  # noqa: PLC0415

    conn = psycopg2.connect(dbname="postgres", **params)
    conn.autocommit = True
    with conn.cursor() as cr:
        cr.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    conn.close()


def database_has_module(params, name, module):
    import psycopg2  # noqa: PLC0415

    try:
        conn = psycopg2.connect(dbname=name, **params)
    except psycopg2.Error:
        return False
    try:
        with conn.cursor() as cr:
            cr.execute(
                "SELECT 1 FROM ir_module_module WHERE name=%s AND state='installed'",
                (module,),
            )
            return bool(cr.fetchone())
    except psycopg2.Error:
        return False
    finally:
        conn.close()


def vacuum(params, name, tables):
    import psycopg2  # noqa: PLC0415
    from psycopg2 import sql  # noqa: PLC0415

    conn = psycopg2.connect(dbname=name, **params)
    conn.autocommit = True
    try:
        with conn.cursor() as cr:
            for table in tables:
                cr.execute(sql.SQL("VACUUM (ANALYZE) {}").format(sql.Identifier(table)))
    finally:
        conn.close()


# ---------------------------------------------------------------- addons
def addons_path():
    """Odoo's own addons plus this repository (pip-installed OCA addons are found
    through the odoo.addons namespace)."""
    paths = [str(ROOT)]
    odoo_path = os.environ.get("ODOO_PATH")
    if odoo_path:
        paths.append(str(Path(odoo_path) / "addons"))
    else:
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                "import odoo, os; print('\\n'.join(os.path.join("
                "os.path.dirname(p), 'addons') for p in odoo.__path__))",
            ],
            capture_output=True,
            text=True,
            cwd="/",
            check=True,
        )
        # odoo is a namespace: the source tree's addons sit beside one of its
        # folders (pip-installed OCA addons add another, without one)
        paths += [p for p in out.stdout.split() if Path(p).is_dir()]
    return ",".join(paths)


def optional_addon_available(dependency):
    """Whether an addon (e.g. a pip-installed OCA one) is on the path; found
    without importing it, as Odoo's other addons are not importable here."""
    probe = (
        "import importlib.util, sys; "
        f"sys.exit(0 if importlib.util.find_spec('odoo.addons.{dependency}') else 1)"
    )
    rc = subprocess.call(
        [sys.executable, "-c", probe], cwd="/", stderr=subprocess.DEVNULL
    )
    return rc == 0 or (Path(addons_path().split(",")[-1]) / dependency).is_dir()


def our_addons():
    mods = list(OUR_ADDONS)
    for addon, dependency in OPTIONAL_ADDONS.items():
        if (ROOT / addon).is_dir() and optional_addon_available(dependency):
            mods.append(addon)
    return mods


def manifest_depends(addon):
    import ast  # noqa: PLC0415

    manifest = ast.literal_eval((ROOT / addon / "__manifest__.py").read_text())
    return [d for d in manifest.get("depends", []) if d not in OUR_ADDONS]


# ---------------------------------------------------------------- commands
def cmd_setup(_args):
    """Set Odoo up under .run (from ODOO_SOURCE) even if this Python has one:
    what a fresh machine gets from make demo / make test."""
    python = setup_odoo()
    say(f"{python} runs Odoo 19.0")
    return 0


def cmd_check(_args):
    odoo_command()
    say("Odoo 19.0 found")
    return 0


def _odoo(params, *extra, command=None, check=True, **kw):
    """Run Odoo's command line; ``command`` names an Odoo CLI command (such as
    the addon's ``kpi_populate``), which must follow ``--addons-path=``."""
    cmd = [*odoo_command(), f"--addons-path={addons_path()}"]
    if command:
        cmd.append(command)
    cmd += [*db_args(params), "--http-interface=127.0.0.1", *extra]
    return subprocess.run(cmd, check=check, **kw)


def _prepare_demo(params, size):
    """Create (or update) the demo database with the sample dataset."""
    if not database_has_module(params, DEMO_DB, "crm_strategic_kpi"):
        say(f"creating database {DEMO_DB} with Odoo's demo data and the addon")
        _odoo(
            params,
            "-d",
            DEMO_DB,
            "-i",
            ",".join(our_addons()),
            "--with-demo",
            "--stop-after-init",
            "--log-level=warn",
        )
        say(f"loading the sample dataset (size {size})")
        _odoo(params, "-d", DEMO_DB, "--size", size, command="kpi_populate")
        say("computing the strategic KPIs and starting the demo goals")
        _odoo(params, "-d", DEMO_DB, "--start-goals", command="kpi_recompute")
    else:
        say(f"reusing database {DEMO_DB}; updating the addons")
        _odoo(
            params,
            "-d",
            DEMO_DB,
            "-u",
            ",".join(our_addons()),
            "--stop-after-init",
            "--log-level=warn",
        )


def _server(params, port):
    return subprocess.Popen(
        [
            *odoo_command(),
            f"--addons-path={addons_path()}",
            *db_args(params),
            "-d",
            DEMO_DB,
            "--db-filter",
            f"^{DEMO_DB}$",
            "--http-interface",
            "127.0.0.1",
            "--http-port",
            str(port),
        ]
    )


def _stop(proc):
    proc.send_signal(signal.SIGINT)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(30)
    if proc.poll() is None:
        proc.kill()


def cmd_demo(args):
    odoo_command()
    params, started = ensure_postgres()
    try:
        _prepare_demo(params, args.size)
        say(f"Odoo is starting on http://127.0.0.1:{args.port}  (login admin / admin)")
        say("Ctrl-C stops Odoo" + (" and the private cluster" if started else ""))
        proc = _server(params, args.port)
        try:
            proc.wait()
        except KeyboardInterrupt:
            _stop(proc)
    finally:
        if started:
            stop_private_cluster()
    return 0


def cmd_screenshots(args):
    """Render the overview, pivot, graph and goal form of the demo into docs/."""
    import urllib.request  # noqa: PLC0415

    odoo_command()
    params, started = ensure_postgres()
    port = _free_port()
    proc = None
    try:
        _prepare_demo(params, args.size)
        proc = _server(params, port)
        base = f"http://127.0.0.1:{port}"
        for _ in range(120):
            with contextlib.suppress(OSError):
                urllib.request.urlopen(base + "/web/login", timeout=5)
                break
            time.sleep(1)
        sys.path.insert(0, str(ROOT / "tools"))
        from screenshots import capture  # noqa: PLC0415

        for path in capture(base, DEMO_DB, ROOT / "docs"):
            say(f"wrote {path.relative_to(ROOT)}")
    finally:
        if proc:
            _stop(proc)
        if started:
            stop_private_cluster()
    return 0


RESULT_RE = re.compile(
    r"odoo\.tests\.result: (\d+) failed, (\d+) error\(s\) of (\d+) tests"
)


def _browser_ready():
    missing = []
    browsers = ("chromium", "google-chrome", "chromium-browser", "google-chrome-stable")
    if not any(shutil.which(b) for b in browsers):
        missing.append("Chromium (Debian: apt-get install chromium)")
    if subprocess.call(
        [sys.executable, "-c", "import websocket"], stderr=subprocess.DEVNULL
    ):
        missing.append("the websocket-client module (pip install -r requirements.txt)")
    return missing


def cmd_test(args):
    odoo_command()
    missing = _browser_ready()
    if missing:
        raise SetupError(
            "Browser tests need " + " and ".join(missing) + "; they are part of "
            "the suite and are not skipped."
        )
    params, started = ensure_postgres()
    db = f"kpi_test_{os.getpid()}"
    mods = our_addons()
    deps = sorted({d for m in mods for d in manifest_depends(m)})
    log = RUN / "test.log"
    RUN.mkdir(exist_ok=True)
    try:
        drop_database(params, db)
        say(f"installing dependencies {', '.join(deps)} into {db} (no tests)")
        _odoo(
            params,
            "-d",
            db,
            "-i",
            ",".join(deps),
            "--stop-after-init",
            "--log-level=warn",
        )
        tags = ",".join(f"/{m}" for m in mods)
        if args.tags:
            tags = args.tags
        say(f"installing {', '.join(mods)} and running their tests ({tags})")
        with log.open("w") as fh:
            proc = subprocess.Popen(
                [
                    *odoo_command(),
                    "--addons-path",
                    addons_path(),
                    *db_args(params),
                    "-d",
                    db,
                    "-i",
                    ",".join(mods),
                    "--test-enable",
                    "--test-tags",
                    tags,
                    "--stop-after-init",
                    "--log-level=test",
                    "--http-port",
                    str(_free_port()),
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for line in proc.stdout:
                fh.write(line)
                if args.verbose or re.search(
                    r" (ERROR|CRITICAL|WARNING) |odoo\.tests\.(result|stats)|FAIL:|"
                    r"Traceback|Starting ",
                    line,
                ):
                    sys.stdout.write(line)
            rc = proc.wait()
        text = log.read_text()
        results = RESULT_RE.findall(text)
        match = results[-1] if results else None
        ran = re.findall(r"Ran (\d+) tests?", text)
        if match:
            failed = int(match[0]) + int(match[1])
            total = int(match[2])
        elif ran:
            total = sum(int(n) for n in ran)
            failed = 0 if "FAILED" not in text else max(1, text.count("FAIL:"))
        else:
            total, failed = 0, 1
        browser_issue = re.search(
            r"Chrome executable not found|Failed to detect chrome devtools|"
            r"Error during Chrome",
            text,
        )
        if browser_issue:
            say(f"browser problem: {browser_issue.group(0)}")
            failed = max(failed, 1)
        errors = re.findall(r"^\S+ \S+ \d+ (?:ERROR|CRITICAL) .*$", text, re.M)
        if errors and failed == 0:
            say("errors were logged during the run:")
            for err in errors[:20]:
                print(err)
            failed = len(errors)
        if total == 0:
            say("no test ran: that is a failure")
            failed = max(failed, 1)
        passed = max(total - failed, 0)
        print(f"{passed} passed, {failed} failed", flush=True)
        return 0 if failed == 0 and rc == 0 else 1
    finally:
        if not args.keep:
            with contextlib.suppress(Exception):
                drop_database(params, db)
        if started:
            stop_private_cluster()


def cmd_bench(args):
    odoo_command()
    params, started = ensure_postgres()
    db = args.database
    try:
        if not database_has_module(params, db, "crm_strategic_kpi"):
            say(f"creating {db} and generating the {args.size} dataset")
            _odoo(
                params,
                "-d",
                db,
                "-i",
                "crm_strategic_kpi,crm_strategic_kpi_sale",
                "--stop-after-init",
                "--log-level=warn",
            )
            _odoo(params, "-d", db, "--size", args.size, command="kpi_populate")
        elif not database_has_module(params, db, "crm_strategic_kpi_sale"):
            # a dataset of an earlier version: its orders, for the runs with
            # orders as revenue source
            say(f"adding Sales and the orders of the {args.size} dataset to {db}")
            _odoo(
                params,
                "-d",
                db,
                "-i",
                "crm_strategic_kpi_sale",
                "--stop-after-init",
                "--log-level=warn",
            )
            _odoo(
                params,
                "-d",
                db,
                "--size",
                args.size,
                "--steps",
                "companies,sales",
                "--force",
                command="kpi_populate",
            )
        # every run rolls its work back, which leaves dead rows behind: clear
        # them so that each run reads tables of the same size
        vacuum(params, db, ("crm_kpi_value", "crm_lead", "crm_kpi_changed_day"))
        _odoo(params, "-d", db, command="kpi_bench")
    finally:
        if started:
            stop_private_cluster()
    return 0


def cmd_pg(args):
    if args.action == "start":
        params, _started = ensure_postgres()
        print(" ".join(db_args(params)))
    else:
        stop_private_cluster()
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="kpi")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("check", help="check that Odoo 19.0 is available")
    sub.add_parser("setup", help="set Odoo 19.0 up under .run when it is missing")
    p_demo = sub.add_parser("demo", help="start the demo Odoo")
    p_demo.add_argument("--size", default="small", choices=["small", "medium", "large"])
    p_demo.add_argument("--port", type=int, default=int(os.environ.get("PORT") or 8069))
    p_test = sub.add_parser("test", help="run every test on a throwaway database")
    p_test.add_argument("--tags", help="Odoo --test-tags (default: our addons)")
    p_test.add_argument("--keep", action="store_true", help="keep the database")
    p_test.add_argument("-v", "--verbose", action="store_true")
    p_bench = sub.add_parser("bench", help="benchmark on a generated dataset")
    p_bench.add_argument(
        "--size", default="large", choices=["small", "medium", "large"]
    )
    p_bench.add_argument("--database", default="kpi_bench")
    p_shots = sub.add_parser("screenshots", help="render screenshots into docs/")
    p_shots.add_argument("--size", default="small", choices=["small", "medium"])
    p_pg = sub.add_parser("pg", help="start or stop the private cluster")
    p_pg.add_argument("action", choices=["start", "stop"])
    args = parser.parse_args(argv)
    handler = {
        "check": cmd_check,
        "setup": cmd_setup,
        "demo": cmd_demo,
        "test": cmd_test,
        "bench": cmd_bench,
        "screenshots": cmd_screenshots,
        "pg": cmd_pg,
    }[args.command]
    try:
        if args.command in ("demo", "test", "bench", "screenshots"):
            run_in_odoo_python(sys.argv[1:] if argv is None else argv)
        return handler(args)
    except SetupError as exc:
        print(f"[kpi] cannot continue: {exc}", file=sys.stderr)
        return 2
    except subprocess.CalledProcessError as exc:
        print(
            f"[kpi] command failed ({exc.returncode}): {' '.join(exc.cmd)}",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
