#!/usr/bin/env bash
# Builds the Debian packages of one architecture and checks them with lintian.
#   scripts/package.sh amd64|arm64|armhf [--check]
# Leaves rtengine_<v>_<arch>.deb and rtengine-dev_<v>_<arch>.deb in build/packages/<arch>/.
# The build has its own folder (build/package-<arch>): installed to /usr with /etc for the
# config and /lib/systemd/system for the unit (where bookworm's debhelper puts units), without
# tests or benchmarks. --check then installs the packages on this machine,
# runs them and purges them (scripts/package_check.sh; amd64 on an amd64 machine only).
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { echo "usage: scripts/package.sh amd64|arm64|armhf [--check]" >&2; exit 2; }
arch=${1:-}
check=0
if [ $# -eq 2 ] && [ "$2" = --check ]; then check=1; elif [ $# -ne 1 ]; then usage; fi
case "$arch" in
  amd64) preset=release; triple=x86_64-linux-gnu; deps=(package) ;;
  arm64) preset=aarch64; triple=aarch64-linux-gnu; deps=(package aarch64) ;;
  armhf) preset=armhf; triple=arm-linux-gnueabihf; deps=(package armhf) ;;
  *) usage ;;
esac
scripts/deps.sh "${deps[@]}"

build=build/package-$arch
out=build/packages/$arch
werror=OFF
[ "${CI:-}" = true ] && werror=ON
# Full RELRO and BIND_NOW, as Debian builds its programs: every symbol is bound at start,
# so no lazy PLT resolution happens on an RT thread's first call into a library.
ldflags="-Wl,-z,relro -Wl,-z,now"
# The multiarch library folder by name: GNUInstallDirs only derives it when not cross-compiling.
cmake --preset "$preset" -B "$build" -DCMAKE_INSTALL_PREFIX=/usr -DCMAKE_INSTALL_SYSCONFDIR=/etc \
  -DCMAKE_INSTALL_LIBDIR="lib/$triple" \
  -DRT_SYSTEMD_UNITDIR=/lib/systemd/system -DCMAKE_EXE_LINKER_FLAGS="$ldflags" \
  -DRT_BUILD_TESTS=OFF -DRT_BUILD_BENCH=OFF -DRT_REQUIRE_SYSTEMD=ON -DRT_WERROR="$werror" >/dev/null
cmake --build "$build" -- -j"${RT_JOBS:-$(nproc)}"

# The runtime's Depends. Native: dpkg-shlibdeps (config/deploy/package.cmake turns it on). Cross:
# dpkg-shlibdeps looks libraries up in this machine's dpkg database, which does not hold the
# target's, so each NEEDED library of the binary is mapped to the target package that ships
# it: a .deb of the sysroot (build/sysroot/**/*_<arch>.deb, `dpkg-deb -c`) or, failing that, a
# multiarch-installed package (`dpkg -S`). The minimum version is the one built against.
cross_depends() {
  local bin=$1 so pkg ver deb found
  local -a debs=()
  [ -d build/sysroot ] && mapfile -t debs < <(find build/sysroot -name "*_$arch.deb" | sort)
  for so in $("$triple-objdump" -p "$bin" | awk '$1 == "NEEDED" { print $2 }'); do
    found=""
    for deb in "${debs[@]}"; do
      # The path compared as a string ("libstdc++.so.6" is no regex; a soname is mostly a
      # symlink, "path -> target"); awk reads the whole listing, so no SIGPIPE under pipefail.
      if dpkg-deb -c "$deb" | awk -v a="./usr/lib/$triple/$so" -v b="./lib/$triple/$so" \
          '{ p = ($(NF - 1) == "->") ? $(NF - 2) : $NF } p == a || p == b { hit = 1 } END { exit !hit }'; then
        pkg=$(dpkg-deb -f "$deb" Package); ver=$(dpkg-deb -f "$deb" Version); found=1; break
      fi
    done
    if [ -z "$found" ]; then
      case "$so" in  # the toolchain's own runtime, when the sysroot has no .deb of it
        libc.so.*|libm.so.*) pkg=libc6; ver=$(dpkg-query -W -f='${Version}' "libc6-dev-$arch-cross") ;;
        libstdc++.so.6) pkg=libstdc++6; ver=$(dpkg-query -W -f='${Version}' "libstdc++6-$arch-cross") ;;
        libgcc_s.so.1) pkg=libgcc-s1; ver=$(dpkg-query -W -f='${Version}' "libgcc-s1-$arch-cross") ;;
        *) pkg=$(dpkg -S "/usr/lib/$triple/$so" 2>/dev/null | head -1 | cut -d: -f1) || true
           [ -n "$pkg" ] && ver=$(dpkg-query -W -f='${Version}' "$pkg:$arch") ;;
      esac
    fi
    if [ -z "${pkg:-}" ] || [ -z "${ver:-}" ]; then
      echo "package.sh: no $arch package found for $so (NEEDED by $bin)" >&2; return 1
    fi
    ver=${ver%%cross*}; ver=${ver%-*}; ver=${ver#*:}  # the upstream version: 2.36-9+deb12u4 -> 2.36
    printf "%s (>= %s)\n" "$pkg" "$ver"
    pkg=""; ver=""
  done
}

cpack_args=()
if [ "$arch" != amd64 ]; then
  depends=$(cross_depends "$build/rt/rtengine" | sort -u | paste -sd, | sed "s/,/, /g")
  echo "package.sh: $arch runtime Depends: $depends, adduser"
  cpack_args=(-D CPACK_DEBIAN_RUNTIME_PACKAGE_SHLIBDEPS=OFF -D "CPACK_DEBIAN_RUNTIME_PACKAGE_DEPENDS=$depends, adduser")
fi

rm -rf "$out"
mkdir -p "$out"
cpack --config "$build/CPackConfig.cmake" -B "$out" "${cpack_args[@]}"
rm -rf "$out/_CPack_Packages"

for deb in "$out"/*.deb; do
  echo "== $(basename "$deb") ($(du -k "$deb" | cut -f1) KiB)"
  dpkg-deb -f "$deb" Package Version Architecture Depends | sed 's/^/   /'
done
# Errors fail the script; warnings and infos are shown. Tags we accept on purpose are
# overridden inside the packages (config/deploy/deb/*.lintian-overrides), each with its reason.
echo "== lintian"
lintian --fail-on error --show-overrides "$out"/*.deb

if [ "$check" = 1 ]; then
  scripts/package_check.sh "$out"
fi
