/* stub */ int kiln_stub_noop;
