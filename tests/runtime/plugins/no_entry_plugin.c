/* A shared library that is not a Tessera plugin: it exports a function,
 * but not TsrPluginInit. */
#include "tessera/plugin.h"

TSR_PLUGIN_EXPORT int NotAPluginEntry(void) { return 42; }
