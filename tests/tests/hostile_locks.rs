//! Issue 10, points 1, 5 and 8: exclusion against other lock disciplines and cleanup jobs, the narrow temp sweep, permissions kept on rewrite.
