# SPDX-License-Identifier: MIT
# plugins/plugin.mk - what every bundled plugin's Makefile.am shares
# (`include $(top_srcdir)/plugins/plugin.mk`): where plugins install, how
# they compile, and the one copy of the rules that put the built .so where
# conf/cluster.yaml and the tests look (plugins/lib in the build tree) and
# keep libtool's .la files out of the installed plugin directory (kiln
# loads NAME.so; a .la beside it is not a plugin and would be logged as a
# bad file).  A plugin's Makefile.am then names its .la and sources only.

plugindir = $(libdir)/kiln/plugins
# Plugins see the SDK (src/kiln/plugin.h) and the plugin libraries of
# lib/ (by folder: "csv/csv.h", "ml/mlplug.h"), never the rest of src/.
AM_CPPFLAGS = -iquote $(top_srcdir)/src -iquote $(top_srcdir)/lib
AM_CFLAGS = $(WARN_CFLAGS)
AM_LDFLAGS = -module -avoid-version -shared

# Plugins built on the analytics library (lib/ml) add these two.
KILNML_CFLAGS = $(JANSSON_CFLAGS) -O2
KILNML_LIBS = $(top_builddir)/lib/ml/libkilnml.la $(JANSSON_LIBS) -lm

PLUGIN_BUILD_DIR = $(top_builddir)/plugins/lib

all-local: $(plugin_LTLIBRARIES)
	@$(MKDIR_P) $(PLUGIN_BUILD_DIR)
	@for la in $(plugin_LTLIBRARIES); do \
	  cp -f .libs/$${la%.la}.so $(PLUGIN_BUILD_DIR)/ || exit 1; \
	done
clean-local:
	@for la in $(plugin_LTLIBRARIES); do \
	  rm -f $(PLUGIN_BUILD_DIR)/$${la%.la}.so; \
	done

# libtool installs NAME.la beside NAME.so; only the .so is a plugin.
install-data-hook:
	@for la in $(plugin_LTLIBRARIES); do \
	  rm -f $(DESTDIR)$(plugindir)/$$la; \
	done
# Without its .la, libtool's uninstall leaves the .so behind.
uninstall-local:
	@for la in $(plugin_LTLIBRARIES); do \
	  rm -f $(DESTDIR)$(plugindir)/$${la%.la}.so; \
	done
