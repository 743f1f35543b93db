# Per-target build settings: warnings and sanitizers are properties of lifeline's own
# targets, never global flags, so a consumer's build is not changed by ours.

# lifeline_target_defaults(<target>): warnings (errors in CI) and the sanitizers chosen
# with LIFELINE_SANITIZERS.
function(lifeline_target_defaults target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast -Wcast-align
    -Wconversion -Wsign-conversion -Wimplicit-fallthrough
    $<$<BOOL:$ENV{CI}>:-Werror>)
  if(LIFELINE_SANITIZERS)
    get_target_property(type ${target} TYPE)
    set(flags -fsanitize=${LIFELINE_SANITIZERS} -fno-omit-frame-pointer -fno-sanitize-recover=all)
    target_compile_options(${target} PRIVATE ${flags})
    if(LIFELINE_SANITIZERS MATCHES "thread")
      # ThreadSanitizer does not model std::atomic_thread_fence, which Asio uses around
      # handler calls; its scheduler's mutex already orders them, so the fence is dropped
      # rather than reported as a false race.
      target_compile_definitions(${target} PRIVATE ASIO_DISABLE_FENCED_BLOCK)
    endif()
    if(NOT type STREQUAL "STATIC_LIBRARY" AND NOT type STREQUAL "OBJECT_LIBRARY")
      target_link_options(${target} PRIVATE ${flags})
    endif()
  endif()
endfunction()
