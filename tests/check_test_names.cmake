# A doctest TEST_CASE whose name holds a ';' is split by ctest into two tests whose
# filters match no test case, so both "pass" without running anything (eight tests went
# unrun that way). Fails, naming them, if any name holds one.
#   cmake -DROOT=<tests dir> -P check_test_names.cmake
file(GLOB_RECURSE sources "${ROOT}/*.cpp")
set(bad "")
foreach(source IN LISTS sources)
  file(STRINGS "${source}" lines REGEX "TEST_CASE\\(\"[^\"]*;")
  foreach(line IN LISTS lines)
    list(APPEND bad "${source}: ${line}")
  endforeach()
endforeach()
if(bad)
  list(JOIN bad "\n" text)
  message(FATAL_ERROR "test names with ';' (ctest would run nothing for them):\n${text}")
endif()
