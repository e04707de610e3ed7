/* stub */ int kiln_test_stub_no_run;
