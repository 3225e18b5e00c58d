"""A service that exists only in the tests: one package and one ServiceSpec row
(tests/test_service_table.py), to prove that is all a new service takes."""
