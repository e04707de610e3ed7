/* stub */ int kiln_stub_sleep;
