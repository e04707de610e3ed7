/* stub */ int kiln_test_stub_init_fails;
