"""Builds the tensor_ipc package for pip, with the project's CMake build.

    pip install --no-build-isolation ./python      (from the repository root)

The C++ build needs what scripts/install-deps.sh installs. It uses a build
directory of its own, TENSORIPC_PIP_BUILD_DIR (default: build-pip/ at the
repository root; kept, so a second install only relinks), builds the module for
the interpreter running pip, and puts the module and libtensoripc-client.so
beside the package's Python files (the module finds the library through its
$ORIGIN rpath), so the installed package needs nothing from the build tree.
"""

import os
import re
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BUILD_DIR = os.path.abspath(
    os.environ.get("TENSORIPC_PIP_BUILD_DIR") or os.path.join(ROOT, "build-pip"))


def project_version():
    with open(os.path.join(ROOT, "CMakeLists.txt")) as f:
        m = re.search(r"project\(\s*tensor-ipc\s+VERSION\s+([0-9.]+)", f.read())
    if not m:
        raise RuntimeError("cannot find the project's VERSION in CMakeLists.txt")
    return m.group(1)


class CMakeExtension(Extension):
    def __init__(self, name):
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    """Configures and builds the CMake target tensor_ipc_core, then installs
    the module (with its install rpath) and copies the client library."""

    def run(self):
        for tool in ("cmake", "ninja"):
            if shutil.which(tool) is None:
                raise RuntimeError(f"{tool} not found: run scripts/install-deps.sh first")
        super().run()

    def build_extension(self, ext):
        def run(*argv):
            print("+ " + " ".join(argv), flush=True)
            subprocess.run(argv, check=True)

        os.makedirs(BUILD_DIR, exist_ok=True)
        run("cmake", "-S", ROOT, "-B", BUILD_DIR, "-G", "Ninja",
            "-DCMAKE_BUILD_TYPE=Release",
            "-DTENSORIPC_PYTHON=ON",
            f"-DPython3_EXECUTABLE={sys.executable}",
            "-DBUILD_TESTING=OFF", "-DTENSORIPC_BENCH=OFF", "-DTENSORIPC_EXAMPLES=OFF")
        run("cmake", "--build", BUILD_DIR, "--target", "tensor_ipc_core")
        staging = os.path.join(os.path.abspath(self.build_temp), "cmake-install")
        shutil.rmtree(staging, ignore_errors=True)
        run("cmake", "--install", BUILD_DIR, "--component", "python", "--prefix", staging)

        info = {}
        with open(os.path.join(BUILD_DIR, "python", "build_info.txt")) as f:
            for line in f:
                key, _, value = line.strip().partition("=")
                info[key] = value
        installed = os.path.join(staging, info["install_dir"], "tensor_ipc",
                                 os.path.basename(info["module"]))
        dest = self.get_ext_fullpath(ext.name)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.copyfile(installed, dest)
        shutil.copyfile(info["client_library"],
                        os.path.join(os.path.dirname(dest), info["client_soname"]))


# Keep setuptools' own output (build/, *.egg-info) out of the source tree.
os.makedirs(os.path.join(BUILD_DIR, "setuptools"), exist_ok=True)
os.chdir(HERE)

setup(
    version=project_version(),
    packages=["tensor_ipc"],
    package_dir={"tensor_ipc": "tensor_ipc"},
    ext_modules=[CMakeExtension("tensor_ipc._core")],
    cmdclass={"build_ext": CMakeBuild},
    zip_safe=False,
    options={
        "build": {"build_base": os.path.join(BUILD_DIR, "setuptools")},
        "egg_info": {"egg_base": os.path.join(BUILD_DIR, "setuptools")},
    },
)
