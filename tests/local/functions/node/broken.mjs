// Fails at import: the Node RIC must report it on /runtime/init/error.
throw new Error("node module cannot load");
