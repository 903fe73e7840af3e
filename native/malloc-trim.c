/*
 * malloc_trim(0) for Node, as a one-function Node-API addon (built by scripts/build.sh; optional).
 *
 * Why: after a flood of requests, glibc's malloc keeps the memory of the freed socket buffers in its heap (it only
 * returns the top of the heap to the system, and a few later allocations sit above them). malloc_trim(0) walks
 * the heap and gives every free page back (madvise). The gateway calls it once after the garbage collection that
 * follows a flood (gateway/http.ts, reclaimAfterFlood). No other glibc tunable does this without slowing the
 * request path (docs/benchmarks.md, "Request floods").
 */
#include <malloc.h>
#include <node_api.h>

static napi_value Trim(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result;
  napi_get_boolean(env, malloc_trim(0) != 0, &result);
  return result;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  if (napi_create_function(env, "trim", NAPI_AUTO_LENGTH, Trim, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "trim", fn) != napi_ok) return NULL;
  return exports;
}
