//! Issue 10, points 3 and 4: valid but unusual JSON on disk is read, never recovered; a document that could not be read back is never written.
