"""Payment gateways: adapters against fake providers and the portal's payment flows."""
