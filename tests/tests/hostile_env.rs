//! Issue 10, point 7: the environment's limits (file-size rlimit, the compiled-code cache, fork) are not the policy's fault.
