"""Attribution and settlement: who caused each sale, and who owes whom."""
