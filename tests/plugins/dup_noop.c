/* stub */ int kiln_test_stub_dup_noop;
