# FindAsio: standalone Asio (Debian's libasio-dev), header-only.
# Provides the imported target Asio::asio, which compiles Asio without Boost and
# without its deprecated interfaces, so every user of lifeline sees the same Asio.
include(FindPackageHandleStandardArgs)

find_path(Asio_INCLUDE_DIR NAMES asio.hpp)
if(Asio_INCLUDE_DIR AND EXISTS ${Asio_INCLUDE_DIR}/asio/version.hpp)
  file(STRINGS ${Asio_INCLUDE_DIR}/asio/version.hpp version_line REGEX "#define ASIO_VERSION ")
  string(REGEX MATCH "[0-9]+" version_number "${version_line}")
  math(EXPR major "${version_number} / 100000")
  math(EXPR minor "${version_number} / 100 % 1000")
  math(EXPR patch "${version_number} % 100")
  set(Asio_VERSION ${major}.${minor}.${patch})
endif()

find_package_handle_standard_args(Asio REQUIRED_VARS Asio_INCLUDE_DIR VERSION_VAR Asio_VERSION)

if(Asio_FOUND AND NOT TARGET Asio::asio)
  find_package(Threads REQUIRED)
  add_library(Asio::asio INTERFACE IMPORTED)
  set_target_properties(Asio::asio PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES ${Asio_INCLUDE_DIR}
    INTERFACE_COMPILE_DEFINITIONS "ASIO_STANDALONE;ASIO_NO_DEPRECATED"
    INTERFACE_LINK_LIBRARIES Threads::Threads)
endif()
mark_as_advanced(Asio_INCLUDE_DIR)
