"""Build script: Cython extensions, build profiles, OpenMP detection, build info.

FASTOPS_BUILD_PROFILE selects the flags (default ``portable``):

  portable  -O3, baseline ISA; AVX2/AVX-512 micro-kernels chosen at run time
  native    -O3 -march=native (everything tuned for the build machine)
  noopenmp  portable without OpenMP: every kernel runs on one thread
  debug     -O0 -g, Cython bounds/wraparound/initialisation checks on
  asan      debug + AddressSanitizer (run with LD_PRELOAD=$(gcc -print-file-name=libasan.so))
"""
import json
import os
import platform
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import textwrap

import numpy
from Cython.Build import cythonize
import Cython
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

PROFILES = {
    "portable": {"cflags": ["-O3"], "openmp": True, "checks": False},
    "native": {"cflags": ["-O3", "-march=native"], "openmp": True, "checks": False},
    "noopenmp": {"cflags": ["-O3"], "openmp": False, "checks": False},
    "debug": {"cflags": ["-O0", "-g", "-UNDEBUG"], "openmp": True, "checks": True},
    "asan": {"cflags": ["-O1", "-g", "-UNDEBUG", "-fsanitize=address", "-fno-omit-frame-pointer"],
             "ldflags": ["-fsanitize=address"], "openmp": True, "checks": True},
}
EXTENSIONS = ["_openmp_helpers", "_matmul_t", "_preprocess"]
HERE = os.path.dirname(os.path.abspath(__file__))


def build_profile() -> str:
    name = os.environ.get("FASTOPS_BUILD_PROFILE", "portable").strip() or "portable"
    if name not in PROFILES:
        sys.exit(f"error: FASTOPS_BUILD_PROFILE={name!r} is not a build profile; "
                 f"valid profiles: {', '.join(PROFILES)}")
    return name


def compiler_command() -> list:
    return (os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc").split()


def compiler_identity(cc: list) -> dict:
    try:
        first = subprocess.run(cc + ["--version"], capture_output=True, text=True,
                               check=True).stdout.splitlines()[0]
    except (OSError, subprocess.CalledProcessError, IndexError):
        first = "unknown"
    name = "clang" if "clang" in first else ("gcc" if "gcc" in first or "GCC" in first else cc[0])
    return {"name": name, "command": " ".join(cc), "version": first}


def openmp_works(cc: list, cflags: list) -> bool:
    """Compile, link and run a program that starts OpenMP threads."""
    source = textwrap.dedent("""
        #include <omp.h>
        #include <stdio.h>
        int main(void) {
            int n = 0;
            #pragma omp parallel reduction(+:n)
            n += 1;
            printf("%d", n == omp_get_max_threads());
            return 0;
        }
    """)
    with tempfile.TemporaryDirectory() as tmp:
        src, exe = os.path.join(tmp, "omp.c"), os.path.join(tmp, "omp")
        with open(src, "w") as f:
            f.write(source)
        try:
            subprocess.run(cc + cflags + ["-fopenmp", src, "-o", exe], check=True,
                           capture_output=True)
            out = subprocess.run([exe], check=True, capture_output=True, text=True).stdout
        except (OSError, subprocess.CalledProcessError):
            return False
    return out.strip() == "1"


def native_march(cc: list) -> str | None:
    """What -march=native resolves to on this machine (gcc only)."""
    try:
        out = subprocess.run(cc + ["-march=native", "-Q", "--help=target"],
                             capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == "-march=":
            return parts[1]
    return None


def configure():
    name = build_profile()
    profile = PROFILES[name]
    cc = compiler_command()
    cflags = list(profile["cflags"]) + ["-fno-math-errno"]
    ldflags = list(profile.get("ldflags", []))
    openmp = profile["openmp"] and openmp_works(cc, [])
    if profile["openmp"] and not openmp:
        print("\n" + "*" * 72 + "\nWARNING: fastops: the compiler cannot build and run an OpenMP "
              "program;\nbuilding without OpenMP, every kernel will run on ONE thread.\n"
              + "*" * 72 + "\n", file=sys.stderr)
    if openmp:
        cflags.append("-fopenmp")
        ldflags.append("-fopenmp")
    x86 = platform.machine().lower() in ("x86_64", "amd64")
    info = {
        "profile": name,
        "compiler": {**compiler_identity(cc), "args": cflags, "link_args": ldflags},
        "march_native": native_march(cc) if "-march=native" in cflags else None,
        "openmp": openmp,
        "openmp_requested": profile["openmp"],
        "cython_checks": profile["checks"],
        "simd_variants": ["baseline", "avx2", "avx512"] if x86 else ["baseline"],
        "cython_version": Cython.__version__,
        "numpy_build_version": numpy.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "system": platform.system(),
        "build_host_cpu": cpu_model(),
    }
    return info, cflags, ldflags


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def write_build_info(info: dict) -> None:
    path = os.path.join(HERE, "fastops", "_build_info.py")
    with open(path, "w") as f:
        f.write('"""Written by setup.py at build time: how this copy of fastops was built."""\n')
        f.write(f"BUILD_INFO = {json.dumps(info, indent=4, sort_keys=True)}\n"
                .replace(": true", ": True").replace(": false", ": False")
                .replace(": null", ": None"))


INFO, CFLAGS, LDFLAGS = configure()
write_build_info(INFO)

extensions = [
    Extension(
        f"fastops.{name}",
        [f"fastops/{name}.pyx"],
        include_dirs=[numpy.get_include(), "fastops"],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_9_API_VERSION")],
        extra_compile_args=CFLAGS,
        extra_link_args=LDFLAGS,
    )
    for name in EXTENSIONS
]

checks = INFO["cython_checks"]
setup(
    ext_modules=cythonize(
        extensions,
        compiler_directives={
            "language_level": 3,
            "boundscheck": checks,
            "wraparound": checks,
            "initializedcheck": checks,
            "cdivision": not checks,
            "freethreading_compatible": True,
        },
        # Profiles differ only in C flags; never reuse C files across them.
        force=True,
    ),
)
