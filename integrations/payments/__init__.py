"""Card and bank payments through one ``PaymentGateway`` interface: Stripe, PayPal, Square."""
