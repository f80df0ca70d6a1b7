"""A real single-node SLURM cluster for tests, built from Debian packages in a temporary folder.

``SlurmCluster`` installs what is missing (``munge slurmctld slurmd slurm-client slurmdbd
mariadb-server``), writes ``slurm.conf``, ``gres.conf``, ``slurmdbd.conf`` and a partition file
for snakemake-executor-plugin-slurm into a fresh folder, and starts its own daemons there on free
ports: ``munged``, ``mariadbd`` + ``slurmdbd`` (accounting: the plugin polls ``sacct``),
``slurmctld`` and ``slurmd``. Nothing under ``/etc`` is changed; clients find the cluster through
``SLURM_CONF`` (see :attr:`SlurmCluster.env`). Two runtime paths are shared with the machine, as
on a real node: munged serves the default socket ``/run/munge/munge.socket.2`` (a munged already
serving it is used instead), and slurmd runs configless (it fetches its configuration from
slurmctld) and links its copy at ``/run/slurm/conf``: commands inside jobs need it, because the
plugin's jobstep executor removes ``SLURM_CONF`` from the environment of the ``srun`` it runs, and
a configless slurmd authenticates with the default munge socket before it has a configuration.

The node has the machine's memory (less 2 GB), at least 4 CPUs and ``n_gpus`` fake GPUs of type
``gpu_type``: GRES on character devices (``/dev/null`` clones), so Slurm allocates them and sets
``CUDA_VISIBLE_DEVICES`` as on a real GPU node. Two partitions share the node: ``cpu`` (default;
a partition QOS with ``MaxTRESPerJob=gres/gpu=0``, ``DenyOnLimit``: a GPU job sent there is
rejected at submission) and ``gpu``.

Every daemon runs in the foreground as a child of this process and is stopped by its PID (SIGTERM,
then SIGKILL) when the context ends, after the cluster's jobs are cancelled::

    with SlurmCluster() as cluster:
        subprocess.run(["sbatch", "--wrap", "hostname"], env=cluster.env, check=False)

Facts and traps: ``../shared/notes/slurm-in-ci.md``. Slurm 22.05 (Debian 12) was used.
"""

from __future__ import annotations

import atexit
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

PACKAGES = ["munge", "slurmctld", "slurmd", "slurm-client", "slurmdbd", "mariadb-server"]
# executables each package provides (what `install` looks for)
BINARIES = {"munged": "munge", "munge": "munge", "slurmctld": "slurmctld", "slurmd": "slurmd",
            "sbatch": "slurm-client", "sacct": "slurm-client", "sacctmgr": "slurm-client",
            "slurmdbd": "slurmdbd", "mariadbd": "mariadb-server", "mariadb-install-db": "mariadb-server"}
SBIN = ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]


class ClusterUnavailable(RuntimeError):
    """This machine cannot run the test cluster (no root, no apt-get, packages missing)."""


def _which(name: str) -> str | None:
    return shutil.which(name) or shutil.which(name, path=os.pathsep.join(SBIN))


def missing_packages() -> list[str]:
    """Debian packages whose executables are not installed."""
    return sorted({pkg for exe, pkg in BINARIES.items() if _which(exe) is None})


def unavailable_reason() -> str | None:
    """Why the cluster cannot start here (None when it can): it needs root, and apt-get to
    install missing packages."""
    if os.geteuid() != 0:
        return "the SLURM test cluster needs root (it starts munged, slurmctld, slurmd, mariadbd as their users)"
    missing = missing_packages()
    if missing and shutil.which("apt-get") is None:
        return f"packages {' '.join(missing)} are missing and apt-get is not available to install them"
    return None


def install(log=print) -> float:
    """Install the missing Debian packages with apt-get; returns the seconds it took.

    Raises
    ------
    ClusterUnavailable
        If apt-get is missing or fails.
    """
    missing = missing_packages()
    if not missing:
        return 0.0
    if shutil.which("apt-get") is None:
        raise ClusterUnavailable(f"packages {' '.join(missing)} missing and no apt-get")
    t0 = time.monotonic()
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    log(f"slurm_cluster: apt-get install {' '.join(PACKAGES)}")
    for cmd in (["apt-get", "update", "-qq"],
                ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *PACKAGES]):
        res = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if res.returncode != 0:
            raise ClusterUnavailable(f"{' '.join(cmd)} failed ({res.returncode}): {res.stderr[-2000:]}")
    return time.monotonic() - t0


def _process_running(name: str) -> bool:
    """Whether a process whose command name is ``name`` runs on this machine (read from /proc)."""
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            if comm.read_text().strip() == name:
                return True
        except OSError:  # the process ended while we looked
            continue
    return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _total_memory_mb() -> int:
    with open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    raise RuntimeError("no MemTotal in /proc/meminfo")


@dataclass
class Daemon:
    name: str
    proc: subprocess.Popen
    log: Path


@dataclass
class SlurmCluster:
    """A single-node SLURM with accounting and fake GPUs; a context manager.

    Parameters
    ----------
    n_gpus : int
        Fake GPUs on the node (GRES ``gpu``), allocatable in partition ``gpu``.
    cpus : int or None
        CPUs the node declares (``SlurmdParameters=config_overrides`` lets it declare more than
        the machine has); None: the machine's count, at least 4, so that on a 2-core CI machine
        both GPU jobs and a CPU job run at once (tiny jobs mostly wait on Python start-up).
    gpu_type : str
        Their GRES type (``--gpus=<type>:1`` requests it, as a profile's ``gpu_model`` does).
    account : str
        Account registered for the current user (``slurm_account`` of the test profile).
    cluster_name : str
        ``ClusterName`` (what sacct and sacctmgr call it).
    base : Path or None
        Folder for configuration, state, logs and databases; a fresh temporary one when None.
    keep : bool
        Keep that temporary folder after :meth:`stop` (to read the daemons' logs).
    log : callable
        Where progress lines go (``print``).

    Raises
    ------
    ClusterUnavailable
        From :meth:`start`, when the machine cannot run it (no root, no apt-get, install failed).
    """

    n_gpus: int = 2
    cpus: int | None = None
    gpu_type: str = "a100"
    account: str = "audiopipe"
    cluster_name: str = "audiopipe-ci"
    base: Path | None = None
    keep: bool = False
    log: object = print
    timings: dict = field(default_factory=dict)
    daemons: list = field(default_factory=list)
    munge_socket: Path = Path("/run/munge/munge.socket.2")
    _made_dirs: list = field(default_factory=list)

    # -- public API ---------------------------------------------------------------------------
    @property
    def host(self) -> str:
        return socket.gethostname().split(".")[0]

    @property
    def env(self) -> dict:
        """Environment for clients and jobs: ``SLURM_CONF`` pointing at this cluster."""
        return {**os.environ, "SLURM_CONF": str(self.conf_dir / "slurm.conf")}

    partitions = ("cpu", "gpu")

    @property
    def partition_config(self) -> Path:
        """Partition limits for the plugin's ``--slurm-partition-config``."""
        return self.conf_dir / "partitions.yaml"

    def __enter__(self) -> SlurmCluster:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        reason = unavailable_reason()
        if reason:
            raise ClusterUnavailable(reason)
        self.timings["install_s"] = install(self.log)
        t0 = time.monotonic()
        atexit.register(self.stop)  # also when the interpreter exits without reaching stop()
        if self.base is None:
            self.base = Path(tempfile.mkdtemp(prefix="audiopipe-slurm-"))
            self._own_base = True
        self.base.mkdir(parents=True, exist_ok=True)
        os.chmod(self.base, 0o755)  # munge and mysql users reach their folders below it
        self.conf_dir = self.base / "etc"
        for d in ("etc", "state", "spool", "log", "run", "dev"):
            (self.base / d).mkdir(exist_ok=True)
        self.ports = {k: _free_port() for k in ("ctld", "slurmd", "dbd", "mysql")}
        if self.cpus is None:  # at least 4 slots: both GPU jobs and a CPU job at once on 2 cores
            self.cpus = max(4, os.cpu_count() or 1)
        self.mem_mb = max(1000, _total_memory_mb() - 2000)
        self._fake_gpus()
        self._write_slurm_conf()
        self._start_munge()
        self._start_mariadb()
        self._start_slurmdbd()
        self._register_accounts()
        self._start("slurmctld", ["slurmctld", "-D", "-i", "-f", str(self.conf_dir / "slurm.conf")])
        # configless, as many sites run: slurmd fetches its configuration from slurmctld and links
        # it at /run/slurm/conf, where SLURM commands inside jobs find it. (The plugin's jobstep
        # executor removes SLURM_CONF from the environment of the srun it starts in each job.)
        run_conf = Path("/run/slurm/conf")
        if run_conf.is_symlink() and not _process_running("slurmd"):
            # left by a slurmd that was killed (its run interrupted): no slurmd serves it any more
            self.log(f"slurm_cluster: removing the stale {run_conf} -> {os.readlink(run_conf)} (no slurmd runs)")
            run_conf.unlink()
        if run_conf.exists() or run_conf.is_symlink():
            raise ClusterUnavailable(f"{run_conf} exists and a slurmd runs: another configless slurmd serves this "
                                     "machine; stop it first")
        self._made_dirs.extend(d for d in (run_conf.parent,) if not d.exists())
        env = {k: v for k, v in self.env.items() if k != "SLURM_CONF"}
        self._start("slurmd", ["slurmd", "-D", "--conf-server", f"127.0.0.1:{self.ports['ctld']}"], env=env)
        self._wait_idle()
        self._limit_cpu_partition()
        self.timings["start_s"] = time.monotonic() - t0
        self.log(f"slurm_cluster: up in {self.timings['start_s']:.1f} s (install {self.timings['install_s']:.1f} s)"
                 f", SLURM_CONF={self.conf_dir / 'slurm.conf'}")

    def stop(self) -> None:
        """Cancel this cluster's jobs, then stop every daemon it started, by PID, newest first."""
        if any(d.name == "slurmctld" and d.proc.poll() is None for d in self.daemons):
            subprocess.run(["scancel", "-u", pwd.getpwuid(os.geteuid()).pw_name],
                           env=self.env, capture_output=True, timeout=30, check=False)
        for d in reversed(self.daemons):
            if d.proc.poll() is None:
                os.kill(d.proc.pid, signal.SIGTERM)
                try:
                    d.proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.kill(d.proc.pid, signal.SIGKILL)
                    d.proc.wait(timeout=10)
        self.daemons.clear()
        run_conf = Path("/run/slurm/conf")  # the link slurmd made to its configuration cache
        if self.base is not None and run_conf.is_symlink() and str(self.base) in os.readlink(run_conf):
            run_conf.unlink()
        for d in reversed(self._made_dirs):  # /run/munge, /run/slurm when this cluster made them
            try:
                d.rmdir()
            except OSError:
                pass
        self._made_dirs.clear()
        if getattr(self, "_own_base", False) and not self.keep and self.base is not None:
            shutil.rmtree(self.base, ignore_errors=True)

    def run(self, *cmd: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
        """Run a SLURM client command against this cluster."""
        res = subprocess.run(list(cmd), env=self.env, capture_output=True, text=True, timeout=timeout, check=False)
        if check and res.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({res.returncode}): {res.stderr.strip()}")
        return res

    def sacct(self, job_ids, fields=("JobIDRaw", "JobName", "Comment%200", "Partition", "State",
                                     "ExitCode", "AllocTRES%200")) -> list[dict]:
        """Accounting records (allocations only, no steps) of some job ids, one dict per job."""
        names = [f.split("%")[0] for f in fields]
        res = self.run("sacct", "-X", "-n", "-P", "-j", ",".join(map(str, job_ids)), "-o", ",".join(fields))
        return [dict(zip(names, line.split("|"))) for line in res.stdout.splitlines() if line.strip()]

    # -- configuration ------------------------------------------------------------------------
    def _fake_gpus(self) -> None:
        for i in range(self.n_gpus):
            dev = self.base / "dev" / f"fakegpu{i}"
            if not dev.exists():
                os.mknod(dev, 0o666 | 0o020000, os.makedev(1, 3))  # char device like /dev/null

    def _write_slurm_conf(self) -> None:
        b, p = self.base, self.ports
        munge_socket = self.munge_socket
        gres = f" Gres=gpu:{self.gpu_type}:{self.n_gpus}" if self.n_gpus else ""
        conf = f"""# written by tests/cluster/slurm_cluster.py
ClusterName={self.cluster_name}
SlurmctldHost={self.host}(127.0.0.1)
SlurmctldPort={p['ctld']}
SlurmdPort={p['slurmd']}
SlurmUser=root
SlurmdUser=root
SlurmctldParameters=enable_configless
MailProg=/bin/true
AuthType=auth/munge
AuthInfo=socket={munge_socket}
CredType=cred/munge
StateSaveLocation={b}/state
SlurmdSpoolDir={b}/spool/slurmd.%n
SlurmctldPidFile={b}/run/slurmctld.pid
SlurmdPidFile={b}/run/slurmd.pid
SlurmctldLogFile={b}/log/slurmctld.log
SlurmdLogFile={b}/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SwitchType=switch/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
SlurmdParameters=config_overrides
ReturnToService=2
MinJobAge=300
KillWait=5
InactiveLimit=0
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort={p['dbd']}
AccountingStoragePass={munge_socket}
AccountingStorageTRES=gres/gpu,gres/gpu:{self.gpu_type}
AccountingStorageEnforce=associations,limits,qos
AccountingStoreFlags=job_comment
GresTypes=gpu
NodeName={self.host} NodeAddr=127.0.0.1 CPUs={self.cpus} RealMemory={self.mem_mb}{gres} State=UNKNOWN
PartitionName=cpu Nodes={self.host} Default=YES MaxTime=INFINITE State=UP QOS=cpuonly
PartitionName=gpu Nodes={self.host} Default=NO MaxTime=INFINITE State=UP
"""
        (self.conf_dir / "slurm.conf").write_text(conf)
        gres_conf = "AutoDetect=off\n"
        if self.n_gpus:
            last = self.n_gpus - 1
            files = f"{b}/dev/fakegpu[0-{last}]" if last else f"{b}/dev/fakegpu0"
            gres_conf += f"NodeName={self.host} Name=gpu Type={self.gpu_type} File={files}\n"
        (self.conf_dir / "gres.conf").write_text(gres_conf)
        # partition limits for snakemake-executor-plugin-slurm (--slurm-partition-config)
        per_job_mem = self.mem_mb
        parts = {"cpu": {"max_gpu": 0, "max_threads": self.cpus, "max_mem_mb": per_job_mem},
                 "gpu": {"max_gpu": self.n_gpus, "available_gpu_models": [self.gpu_type],
                         "max_threads": self.cpus, "max_cpus_per_gpu": self.cpus, "max_mem_mb": per_job_mem}}
        self.partition_config.write_text(
            "# written by tests/cluster/slurm_cluster.py: limits of the test cluster's partitions\n"
            + yaml.safe_dump({"partitions": parts}, sort_keys=False))

    # -- daemons ------------------------------------------------------------------------------
    def _start(self, name: str, cmd: list[str], user: str | None = None, env: dict | None = None) -> Daemon:
        exe = _which(cmd[0])
        if exe is None:
            raise ClusterUnavailable(f"{cmd[0]} not found")
        log = self.base / "log" / f"{name}.out"
        kwargs = {}
        if user:
            pw = pwd.getpwnam(user)
            kwargs.update(user=pw.pw_uid, group=pw.pw_gid, extra_groups=[])
        with open(log, "ab") as fh:  # the daemon keeps its own copy of the descriptor
            proc = subprocess.Popen([exe, *cmd[1:]], stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    env=env or self.env, start_new_session=True, **kwargs)
        d = Daemon(name, proc, log)
        self.daemons.append(d)
        return d

    def _wait(self, what: str, check, timeout: float = 60, daemon: Daemon | None = None) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if daemon is not None and daemon.proc.poll() is not None:
                raise RuntimeError(f"{daemon.name} exited ({daemon.proc.returncode}) before {what}:\n"
                                   + self._tail(daemon.log))
            if check():
                return
            time.sleep(0.3)
        raise TimeoutError(f"timed out ({timeout:.0f} s) waiting for {what}")

    def _tail(self, path: Path, n: int = 3000) -> str:
        try:
            return path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def _munge_ok(self) -> bool:
        sock = f"--socket={self.munge_socket}"
        enc = subprocess.run(["munge", "-n", sock], capture_output=True, check=False)
        dec = subprocess.run(["unmunge", sock], input=enc.stdout, capture_output=True, check=False)
        return enc.returncode == 0 and dec.returncode == 0

    def _start_munge(self) -> None:
        """munged on the default socket (a configless slurmd authenticates before it has a
        configuration, hence with the default socket); a munged already serving it is used as is."""
        if self._munge_ok():
            self.log(f"slurm_cluster: using the munged already running on {self.munge_socket}")
            return
        mdir = self.base / "munge"
        mdir.mkdir(exist_ok=True)
        pw = pwd.getpwnam("munge")
        key = mdir / "munge.key"
        key.write_bytes(os.urandom(1024))
        os.chmod(key, 0o400)
        rundir = self.munge_socket.parent
        if not rundir.exists():
            self._made_dirs.append(rundir)
        rundir.mkdir(parents=True, exist_ok=True)
        for p in (mdir, key, rundir):
            os.chown(p, pw.pw_uid, pw.pw_gid)
        os.chmod(rundir, 0o755)  # munged: the socket folder must be searchable by all
        d = self._start("munged", ["munged", "--foreground", f"--socket={self.munge_socket}", f"--key-file={key}",
                                   f"--pid-file={mdir}/munged.pid", f"--log-file={mdir}/munged.log",
                                   f"--seed-file={mdir}/munged.seed", "--num-threads=4"], user="munge")
        self._wait("munged", self._munge_ok, daemon=d)

    def _start_mariadb(self) -> None:
        ddir = self.base / "mysql"
        ddir.mkdir(exist_ok=True)
        pw = pwd.getpwnam("mysql")
        os.chown(ddir, pw.pw_uid, pw.pw_gid)
        self.mysql_socket = ddir / "mysqld.sock"
        common = ["--no-defaults", f"--datadir={ddir}/data"]
        res = subprocess.run([_which("mariadb-install-db"), *common, "--user=mysql", "--skip-test-db",
                              "--auth-root-authentication-method=socket"], capture_output=True, text=True, check=False)
        if res.returncode != 0:
            raise RuntimeError(f"mariadb-install-db failed: {res.stderr[-2000:]}")
        d = self._start("mariadbd", ["mariadbd", *common, "--user=mysql", f"--socket={self.mysql_socket}",
                                     f"--port={self.ports['mysql']}", "--bind-address=127.0.0.1",
                                     f"--pid-file={ddir}/mariadbd.pid", "--innodb-lock-wait-timeout=900",
                                     "--innodb-buffer-pool-size=64M", "--skip-log-bin"])
        self._wait("mariadbd", lambda: self._sql("SELECT 1", check=False).returncode == 0, daemon=d)
        self.db_pass = os.urandom(8).hex()
        self._sql(f"CREATE USER 'slurm'@'127.0.0.1' IDENTIFIED BY '{self.db_pass}'; "
                  "GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1'; FLUSH PRIVILEGES;")

    def _sql(self, sql: str, check: bool = True) -> subprocess.CompletedProcess:
        res = subprocess.run(["mariadb", "--no-defaults", f"--socket={self.mysql_socket}", "-uroot", "-e", sql],
                             capture_output=True, text=True, check=False)
        if check and res.returncode != 0:
            raise RuntimeError(f"SQL failed: {res.stderr}")
        return res

    def _start_slurmdbd(self) -> None:
        conf = self.conf_dir / "slurmdbd.conf"
        conf.write_text(f"""# written by tests/cluster/slurm_cluster.py
AuthType=auth/munge
AuthInfo=socket={self.munge_socket}
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort={self.ports['dbd']}
SlurmUser=root
PidFile={self.base}/run/slurmdbd.pid
LogFile={self.base}/log/slurmdbd.log
DebugLevel=info
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort={self.ports['mysql']}
StorageUser=slurm
StoragePass={self.db_pass}
StorageLoc=slurm_acct_db
""")
        os.chmod(conf, 0o600)
        d = self._start("slurmdbd", ["slurmdbd", "-D"])
        last = {}

        def up():
            last["res"] = self.run("sacctmgr", "-n", "list", "cluster", check=False)
            return last["res"].returncode == 0

        try:
            self._wait("slurmdbd", up, daemon=d)
        except TimeoutError as e:
            raise TimeoutError(f"{e}: sacctmgr said {last['res'].stderr.strip()!r}") from None

    def _register_accounts(self) -> None:
        user = pwd.getpwuid(os.geteuid()).pw_name
        self.run("sacctmgr", "-i", "add", "cluster", self.cluster_name)
        # partition cpu: no GPU per job; DenyOnLimit rejects such a job at submission
        # (its gres/gpu limit is set once slurmctld has registered the TRES: _limit_cpu_partition)
        self.run("sacctmgr", "-i", "add", "qos", "cpuonly", "set", "Flags=DenyOnLimit")
        self.run("sacctmgr", "-i", "add", "account", self.account, f"cluster={self.cluster_name}",
                 "Description=audiopipe tests", "Organization=audiopipe")
        self.run("sacctmgr", "-i", "add", "user", user, f"account={self.account}", f"cluster={self.cluster_name}",
                 f"DefaultAccount={self.account}")
        self.run("sacctmgr", "-i", "modify", "user", user, "set", "qos+=cpuonly")

    def _limit_cpu_partition(self) -> None:
        """No GPU in partition ``cpu``: its QOS allows 0 ``gres/gpu`` per job (known once slurmctld runs)."""
        self.run("sacctmgr", "-i", "modify", "qos", "cpuonly", "set", "MaxTRESPerJob=gres/gpu=0")
        self._wait("slurmctld to load the cpu partition's QOS limit",
                   lambda: "gres/gpu=0" in self.run("scontrol", "show", "assoc_mgr", "flags=qos", "qos=cpuonly",
                                                   check=False).stdout, timeout=30)

    def _wait_idle(self, timeout: float = 60) -> None:
        ctld = next(d for d in self.daemons if d.name == "slurmctld")
        slurmd = next(d for d in self.daemons if d.name == "slurmd")

        def idle():
            if slurmd.proc.poll() is not None:
                raise RuntimeError(f"slurmd exited ({slurmd.proc.returncode}):\n" + self._tail(slurmd.log)
                                   + self._tail(self.base / "log" / "slurmd.log"))
            res = self.run("sinfo", "-h", "-o", "%P %t", check=False)
            states = [line.split()[-1] for line in res.stdout.splitlines() if line.strip()]
            return res.returncode == 0 and len(states) == 2 and all(s == "idle" for s in states)

        try:
            self._wait("the node to be idle in both partitions", idle, timeout=timeout, daemon=ctld)
        except TimeoutError:
            res = self.run("sinfo", "-N", "-l", check=False)
            raise TimeoutError(f"node not idle after {timeout} s: {res.stdout}{res.stderr}\n"
                               + self._tail(self.base / "log" / "slurmctld.log")) from None


if __name__ == "__main__":  # manual check: start, run one GPU job, stop
    with SlurmCluster(keep=False) as c:
        print(c.run("sinfo").stdout)
        print(c.run("srun", "-p", "gpu", "--gpus=1", "printenv", "CUDA_VISIBLE_DEVICES").stdout)
