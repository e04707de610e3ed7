/* stub */ int kiln_test_stub_bad_abi;
