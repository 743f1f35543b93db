# Installs lifeline (libraries only, no sanitizers) into a scratch prefix and builds and
# runs a consumer project against it, as a game server's build would.
file(REMOVE_RECURSE ${WORK_DIR})
set(build ${WORK_DIR}/lifeline-build)
set(prefix ${WORK_DIR}/prefix)
set(consumer_build ${WORK_DIR}/consumer-build)

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE result)
  if(NOT result EQUAL 0)
    string(JOIN " " command ${ARGN})
    message(FATAL_ERROR "failed (${result}): ${command}")
  endif()
endfunction()

run(${CMAKE_COMMAND} -S ${LIFELINE_SOURCE_DIR} -B ${build} -DCMAKE_BUILD_TYPE=Release
    -DCMAKE_CXX_COMPILER=${CXX_COMPILER} -DCMAKE_INSTALL_PREFIX=${prefix}
    -DLIFELINE_BUILD_TESTS=OFF -DLIFELINE_BUILD_BENCH=OFF -DLIFELINE_BUILD_TOOLS=OFF)
run(${CMAKE_COMMAND} --build ${build} --parallel 2)
run(${CMAKE_COMMAND} --install ${build})
run(${CMAKE_COMMAND} -S ${LIFELINE_SOURCE_DIR}/tests/package/consumer -B ${consumer_build}
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_CXX_COMPILER=${CXX_COMPILER})
run(${CMAKE_COMMAND} --build ${consumer_build})
run(${consumer_build}/consumer)
