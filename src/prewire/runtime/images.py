"""Container images without a registry: a Docker image and a podman rootfs built from busybox-static.

Nothing can be pulled on these machines; `apt-get install busybox-static` provides a static /bin/busybox
whose applets (sh, ip, ping, arping, sleep, ...) are all a test container needs.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

from prewire.errors import NotFound, Unavailable

BUSYBOX = "/bin/busybox"
DOCKER_IMAGE = "prewire/busybox:latest"
ETC_FILES = {
    "etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
    "etc/group": "root:x:0:\nnogroup:x:65534:\n",
    "etc/hosts": "127.0.0.1 localhost\n",
}
DIRS = ("bin", "etc", "proc", "sys", "dev", "tmp", "root", "run", "var")


def _busybox() -> str:
    if not os.access(BUSYBOX, os.X_OK):
        raise NotFound(f"{BUSYBOX} is missing: apt-get install busybox-static")
    return BUSYBOX


def applets(busybox: str = BUSYBOX) -> list[str]:
    """Applet names this busybox provides (`busybox --list`)."""
    out = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True, timeout=10).stdout
    return [name for name in out.split() if name and "/" not in name and name != "busybox"]


def rootfs_tar() -> bytes:
    """A root filesystem tarball: /bin/busybox, one symlink per applet, minimal /etc."""
    busybox = _busybox()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for d in DIRS:
            info = tarfile.TarInfo(d)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777 if d == "tmp" else 0o755
            tar.addfile(info)
        tar.add(busybox, arcname="bin/busybox")
        for name in applets(busybox):
            link = tarfile.TarInfo(f"bin/{name}")
            link.type, link.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(link)
        for path, text in ETC_FILES.items():
            data = text.encode()
            info = tarfile.TarInfo(path)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def docker_image_exists(tag: str = DOCKER_IMAGE) -> bool:
    probe = subprocess.run(["docker", "image", "inspect", tag], capture_output=True, timeout=30, check=False)
    return probe.returncode == 0


def ensure_docker_image(tag: str = DOCKER_IMAGE) -> str:
    """`docker import` the busybox rootfs as `tag` unless it exists; returns the tag."""
    if shutil.which("docker") is None:
        raise Unavailable("docker CLI not found: apt-get install docker.io")
    if docker_image_exists(tag):
        return tag
    done = subprocess.run(
        ["docker", "import", "--change", 'CMD ["/bin/sh"]', "-", tag],
        input=rootfs_tar(),
        capture_output=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise Unavailable(f"docker import {tag} failed: {done.stderr.decode().strip()[-300:]}")
    return tag


def ensure_rootfs(path: str) -> Path:
    """A busybox root directory for `podman run --rootfs PATH` (idempotent)."""
    root = Path(path)
    if (root / "bin" / "busybox").exists():
        return root
    root.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(rootfs_tar())) as tar:
        tar.extractall(root, filter="tar")
    return root
