# Overlay port: vcpkg install weft --overlay-ports=packaging/vcpkg
vcpkg_from_github(
  OUT_SOURCE_PATH SOURCE_PATH
  REPO weft-mesh/weft
  REF "v${VERSION}"
  SHA512 0  # set on release
  HEAD_REF main)
set(VCPKG_BUILD_TYPE release)  # header-only: one configuration is enough
vcpkg_cmake_configure(SOURCE_PATH "${SOURCE_PATH}"
  OPTIONS -DWEFT_BUILD_TESTS=OFF -DWEFT_BUILD_EXAMPLES=OFF -DWEFT_BUILD_BENCH=OFF
          -DWEFT_BUILD_FUZZ=OFF -DWEFT_INSTALL=ON)
vcpkg_cmake_install()
vcpkg_cmake_config_fixup(CONFIG_PATH share/cmake/weft)
file(REMOVE_RECURSE "${CURRENT_PACKAGES_DIR}/debug")
vcpkg_install_copyright(FILE_LIST "${SOURCE_PATH}/LICENSE")
