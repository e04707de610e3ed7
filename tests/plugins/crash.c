/* stub */ int kiln_test_stub_crash;
