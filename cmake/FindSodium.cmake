# FindSodium: libsodium (Debian's libsodium-dev), for the resume tokens' HMAC-SHA256.
# Provides the imported target Sodium::sodium. libsodium ships no CMake package, and a
# plain find_path/find_library needs nothing more on a consumer's machine than the library
# itself (pkg-config need not be installed), as FindAsio does for Asio. lifeline links it
# PRIVATE; a static lifeline_core still names it in its link interface, so the installed
# package finds it again through this file (lifelineConfig.cmake's find_dependency).
include(FindPackageHandleStandardArgs)

find_path(Sodium_INCLUDE_DIR NAMES sodium.h)
find_library(Sodium_LIBRARY NAMES sodium libsodium)
if(Sodium_INCLUDE_DIR AND EXISTS ${Sodium_INCLUDE_DIR}/sodium/version.h)
  file(STRINGS ${Sodium_INCLUDE_DIR}/sodium/version.h version_line REGEX "#define SODIUM_VERSION_STRING ")
  string(REGEX MATCH "[0-9]+\\.[0-9]+\\.[0-9]+" Sodium_VERSION "${version_line}")
endif()

find_package_handle_standard_args(Sodium
  REQUIRED_VARS Sodium_LIBRARY Sodium_INCLUDE_DIR VERSION_VAR Sodium_VERSION)

if(Sodium_FOUND AND NOT TARGET Sodium::sodium)
  add_library(Sodium::sodium UNKNOWN IMPORTED)
  set_target_properties(Sodium::sodium PROPERTIES
    IMPORTED_LOCATION ${Sodium_LIBRARY}
    INTERFACE_INCLUDE_DIRECTORIES ${Sodium_INCLUDE_DIR})
endif()
mark_as_advanced(Sodium_INCLUDE_DIR Sodium_LIBRARY)
