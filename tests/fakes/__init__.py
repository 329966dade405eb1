"""Fakes of outside services that tests run against over real sockets, with real git behind them."""
