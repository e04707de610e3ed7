/* stub */ int kiln_stub_csvstats;
